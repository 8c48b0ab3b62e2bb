//! `/register`: self-registration, open only when `TESSERA_REGISTRATION=open`. The username and
//! email are parsed as `domain::account` values and the password meets the password policy,
//! the same checks as the CLI's `user create`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, HttpResponseBuilder, web};
use askama::Template;

use super::pages;
use super::session::{self, Browser};
use crate::clock;
use crate::config::Registration;
use crate::db::DbError;
use crate::domain::params::Params;
use crate::manage::{self, ManageError, NewUser};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "register.html")]
pub struct RegisterPage<'a> {
    pub error: Option<&'a str>,
    pub csrf: &'a str,
    pub username: &'a str,
    pub email: &'a str,
    pub name: &'a str,
}

#[derive(Template)]
#[template(path = "registered.html")]
pub struct RegisteredPage<'a> {
    pub username: &'a str,
}

fn closed() -> HttpResponse {
    pages::error_page(
        StatusCode::NOT_FOUND,
        "Registration is closed",
        "New accounts cannot be created here. Ask the people who run this service for an account.",
    )
}

/// The form, giving the browser an anonymous cookie first if it has none.
fn form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    error: Option<&str>,
    fields: [&str; 3],
) -> HttpResponse {
    let mut builder = HttpResponseBuilder::new(status);
    let csrf = match &browser.cookie {
        Some(value) => session::csrf_token(value),
        None => {
            let (value, cookie) = session::new_anonymous(&state.config);
            builder.cookie(cookie);
            session::csrf_token(&value)
        }
    };
    let [username, email, name] = fields;
    pages::render_into(
        builder,
        &RegisterPage {
            error,
            csrf: &csrf,
            username,
            email,
            name,
        },
    )
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if state.config.registration == Registration::Off {
        return closed();
    }
    match session::load(&req, &state, clock::now()).await {
        Ok(browser) => form(&state, &browser, StatusCode::OK, None, ["", "", ""]),
        Err(e) => super::unavailable(e),
    }
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if state.config.registration == Registration::Off {
        return closed();
    }
    let now = clock::now();
    let Ok(params) = Params::parse(&body) else {
        return super::bad_form();
    };
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return super::unavailable(e),
    };
    if !session::csrf_valid(&browser, params.get("csrf_token")) {
        return super::form_expired();
    }
    let username = params.get("username").unwrap_or("").trim().to_string();
    let email = params.get("email").unwrap_or("").trim().to_string();
    let name = params.get("name").unwrap_or("").trim().to_string();
    let password = params.get("password").unwrap_or("").to_string();
    let fields = [username.as_str(), email.as_str(), name.as_str()];
    if password != params.get("confirm_password").unwrap_or("") {
        return form(
            &state,
            &browser,
            StatusCode::BAD_REQUEST,
            Some("The passwords do not match."),
            fields,
        );
    }
    if name.chars().count() > 128 {
        return form(
            &state,
            &browser,
            StatusCode::BAD_REQUEST,
            Some("The name is too long (at most 128 characters)."),
            fields,
        );
    }
    let new = NewUser {
        username: username.clone(),
        email: email.clone(),
        password,
        name: (!name.is_empty()).then(|| name.clone()),
        admin: false,
    };
    // The form is checked before argon2 runs, on the executor, holding no database connection.
    let created = match manage::check_new_user(&new) {
        Ok(()) => match state.hashing.hash(new.password.clone()).await {
            Ok(hash) => {
                state
                    .db
                    .run(move |conn| -> Result<_, RegisterError> {
                        Ok(manage::create_user_hashed(conn, new, hash, now))
                    })
                    .await
            }
            Err(e) => return super::hashing_refused(e),
        },
        Err(e) => Ok(Err(e)),
    };
    match created {
        Ok(Ok(user)) => {
            tracing::info!(user_id = %user.id, "A person registered.");
            pages::html(
                StatusCode::OK,
                &RegisteredPage {
                    username: &user.username,
                },
            )
        }
        Ok(Err(ManageError::Invalid(message))) => form(
            &state,
            &browser,
            StatusCode::BAD_REQUEST,
            Some(&message),
            fields,
        ),
        Ok(Err(ManageError::Exists(_))) => form(
            &state,
            &browser,
            StatusCode::CONFLICT,
            Some("This username is already taken. Choose another one."),
            fields,
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "A registration failed.");
            super::unavailable(DbError::Blocking)
        }
        Err(RegisterError(e)) => super::unavailable(e),
    }
}

/// A database failure while registering.
struct RegisterError(DbError);

impl From<DbError> for RegisterError {
    fn from(e: DbError) -> Self {
        Self(e)
    }
}
