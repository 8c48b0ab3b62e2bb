//! Console pages for users: list and create, roles and groups, enable or disable, reset the password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::AdminSession;
use super::console::{act, failure, form, form_error, notice, page, see_other};
use super::console_pages::*;
use super::paging::{Pager, console_slice};
use super::{access_ttl, run_op};
use crate::domain::params::Params;
use crate::manage::NewUser;
use crate::manage::ops::{self, UserChanges};
use crate::state::AppState;
use crate::web::pages;

async fn users_page(
    admin: AdminSession,
    state: &AppState,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    form: UserForm,
    query_string: &str,
) -> HttpResponse {
    let (slice, page_no) = console_slice(query_string);
    let asked = slice.clone();
    match state.db.run(move |conn| ops::users(conn, &asked)).await {
        Ok(users) => page(
            status,
            &UsersPage {
                nav: "users",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice,
                error,
                pager: Pager::new("/admin/users", &slice, page_no, users.total),
                users: users.rows,
                form,
            },
        ),
        Err(e) => failure(e),
    }
}

pub async fn users(
    admin: AdminSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    users_page(
        admin,
        &state,
        StatusCode::OK,
        notice(&req),
        None,
        UserForm::default(),
        req.query_string(),
    )
    .await
}

pub async fn create_user(
    admin: AdminSession,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let text = |n: &str| params.get(n).unwrap_or("").to_string();
    let f = UserForm {
        username: text("username"),
        email: text("email"),
        name: text("name"),
        roles: text("roles"),
        groups: text("groups"),
    };
    let typed = text("password");
    let generated = typed.is_empty().then(crate::crypto::random::token);
    let new = NewUser {
        username: f.username.clone(),
        email: f.email.clone(),
        password: generated.clone().unwrap_or(typed),
        name: Some(f.name.trim().to_string()).filter(|n| !n.is_empty()),
        admin: false,
    };
    let (roles, groups) = (words(&f.roles), words(&f.groups));
    let hashed = match crate::manage::check_new_user(&new) {
        Ok(()) => state
            .hashing
            .hash(new.password.clone())
            .await
            .map_err(crate::manage::ManageError::from),
        Err(e) => Err(e),
    };
    let created = match hashed {
        Ok(hash) => {
            run_op(&state, admin.actor(), move |conn, by| {
                ops::create_user(conn, by, new, hash, roles, groups)
            })
            .await
        }
        Err(e) => Err(e),
    };
    match created {
        Ok(view) => match generated {
            Some(password) => page(
                StatusCode::CREATED,
                &SecretPage {
                    nav: "users",
                    csrf: admin.csrf,
                    admin_name: admin.user.username,
                    notice: None,
                    error: None,
                    heading: format!("User {} created", view.user.username),
                    explanation: "Give this password to the person; they sign in with it.".into(),
                    label: "Password",
                    secret: password,
                    next: format!("/admin/users/{}", view.user.id),
                },
            ),
            None => see_other(format!("/admin/users/{}?notice=created", view.user.id)),
        },
        Err(e) => match form_error(e) {
            Ok(message) => {
                users_page(
                    admin,
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(message),
                    f,
                    "",
                )
                .await
            }
            Err(res) => res,
        },
    }
}

pub async fn user_page(
    admin: AdminSession,
    state: &AppState,
    id: String,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> HttpResponse {
    match state.db.run(move |conn| ops::user(conn, &id)).await {
        Ok(view) => page(
            status,
            &UserPage {
                nav: "users",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice,
                error,
                roles: view.membership.roles.join(" "),
                groups: view.membership.groups.join(" "),
                view,
            },
        ),
        Err(e) => failure(e),
    }
}

pub async fn user(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    user_page(
        admin,
        &state,
        path.into_inner(),
        StatusCode::OK,
        notice(&req),
        None,
    )
    .await
}

/// Applies `changes` to a user and returns to their page.
pub async fn change_user(
    admin: AdminSession,
    state: &AppState,
    id: String,
    changes: UserChanges,
) -> HttpResponse {
    let ttl = access_ttl(state);
    let target = id.clone();
    match run_op(state, admin.actor(), move |conn, by| {
        ops::update_user(conn, by, &target, changes, ttl)
    })
    .await
    {
        Ok(_) => see_other(format!("/admin/users/{id}?notice=saved")),
        Err(e) => match form_error(e) {
            Ok(message) => {
                user_page(
                    admin,
                    state,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(message),
                )
                .await
            }
            Err(res) => res,
        },
    }
}

pub async fn update_user(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let changes = UserChanges {
        disabled: None,
        roles: Some(words(params.get("roles").unwrap_or(""))),
        groups: Some(words(params.get("groups").unwrap_or(""))),
        mfa_required: None,
    };
    change_user(admin, &state, path.into_inner(), changes).await
}

/// A form's `yes`/`no` choice, or the error page that says what to choose.
// The error is the finished answer page, as with `form`.
#[allow(clippy::result_large_err)]
fn yes_or_no(params: &Params, field: &str, what_to_choose: &str) -> Result<bool, HttpResponse> {
    match params.get(field) {
        Some("yes") => Ok(true),
        Some("no") => Ok(false),
        _ => Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            what_to_choose,
        )),
    }
}

pub async fn set_status(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let disabled = match yes_or_no(&params, "disabled", "Choose to enable or disable the user.") {
        Ok(v) => v,
        Err(res) => return res,
    };
    let changes = UserChanges {
        disabled: Some(disabled),
        ..UserChanges::default()
    };
    change_user(admin, &state, path.into_inner(), changes).await
}

pub async fn set_mfa_required(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let required = match yes_or_no(
        &params,
        "required",
        "Choose whether a second factor is required.",
    ) {
        Ok(v) => v,
        Err(res) => return res,
    };
    let changes = UserChanges {
        mfa_required: Some(required),
        ..UserChanges::default()
    };
    change_user(admin, &state, path.into_inner(), changes).await
}

pub async fn reset_mfa(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let done = format!("/admin/users/{id}?notice=mfa-reset");
    act(admin, &state, &body, done, move |conn, by| {
        ops::reset_mfa(conn, by, &id)
    })
    .await
}

pub async fn reset_password(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let id = path.into_inner();
    let typed = params.get("password").unwrap_or("").to_string();
    let given = (!typed.is_empty()).then_some(typed);
    let ttl = access_ttl(&state);
    let target = id.clone();
    let outcome = match ops::choose_password(given) {
        Ok((chosen, generated)) => match state.hashing.hash(chosen).await {
            Ok(hash) => run_op(&state, admin.actor(), move |conn, by| {
                ops::reset_password(conn, by, &target, hash, ttl)
            })
            .await
            .map(|()| generated),
            Err(e) => Err(e.into()),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Some(password)) => page(
            StatusCode::OK,
            &SecretPage {
                nav: "users",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice: None,
                error: None,
                heading: "New password".into(),
                explanation: "The user was signed out everywhere and signs in with this password."
                    .into(),
                label: "Password",
                secret: password,
                next: format!("/admin/users/{id}"),
            },
        ),
        Ok(None) => see_other(format!("/admin/users/{id}?notice=password")),
        Err(e) => match form_error(e) {
            Ok(message) => {
                user_page(
                    admin,
                    &state,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(message),
                )
                .await
            }
            Err(res) => res,
        },
    }
}
