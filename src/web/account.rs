//! `/account`, for signed-in people only: the overview, changing the password, ending sessions
//! and removing an application's access. Two-step verification lives in `account_mfa`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::{self, client_ip};
use super::pages;
use super::session::{self, Browser};
use crate::clock;
use crate::db::sessions::Session;
use crate::db::users::User;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::domain::password_policy;
use crate::state::AppState;

pub struct SessionLine {
    pub sid: String,
    pub started: String,
    pub mfa: bool,
    pub current: bool,
}

pub struct AppLine {
    pub client_id: String,
    pub name: String,
    pub scopes: String,
}

#[derive(Template)]
#[template(path = "account.html")]
pub struct AccountPage<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub notice: Option<&'a str>,
    pub error: Option<&'a str>,
    pub csrf: &'a str,
    pub mfa_enabled: bool,
    pub mfa_mandatory: bool,
    pub recovery_left: i64,
    pub sessions: Vec<SessionLine>,
    pub apps: Vec<AppLine>,
}

/// A signed-in person making a request to their account.
pub struct Person {
    pub browser: Browser,
    pub session: Session,
    pub user: User,
    pub csrf: String,
}

/// The signed-in person, or the answer to send instead (the login page, which comes back
/// here).
pub async fn person(req: &HttpRequest, state: &AppState, now: i64) -> Result<Person, HttpResponse> {
    let browser = session::load(req, state, now)
        .await
        .map_err(super::unavailable)?;
    let Some(current) = browser.session.clone() else {
        return Err(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, login::login_url(pages::paths::ACCOUNT)))
            .finish());
    };
    let user_id = current.user_id.clone();
    let user = state
        .db
        .run(move |conn| db::users::find(conn, &user_id).map_err(DbError::from))
        .await
        .map_err(super::unavailable)?;
    let Some(user) = user else {
        return Err(super::unavailable(DbError::Blocking));
    };
    let csrf = browser.csrf().unwrap_or_default();
    Ok(Person {
        browser,
        session: current,
        user,
        csrf,
    })
}

/// A POST to an account form: parsed body, signed-in person, valid CSRF token.
pub async fn post(
    req: &HttpRequest,
    body: &[u8],
    state: &AppState,
    now: i64,
) -> Result<(Params, Person), HttpResponse> {
    let params = Params::parse(body).map_err(|_| super::bad_form())?;
    let person = person(req, state, now).await?;
    if !session::csrf_valid(&person.browser, params.get("csrf_token")) {
        return Err(super::form_expired());
    }
    Ok((params, person))
}

fn when(ts: i64) -> String {
    chrono::DateTime::from_timestamp(ts, 0)
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The account page, with a notice or an error.
pub async fn page(
    state: &AppState,
    person: &Person,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let (user_id, now) = (person.user.id.clone(), clock::now());
    let data = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            let enabled = db::mfa::credential(conn, &user_id)?.is_some_and(|c| c.confirmed);
            let left = db::mfa::unused_recovery_codes(conn, &user_id)?;
            let sessions = db::sessions::list_for_user(conn, &user_id, now)?;
            let apps = db::consents::list_for_user(conn, &user_id)?;
            Ok((enabled, left, sessions, apps))
        })
        .await;
    let (mfa_enabled, recovery_left, sessions, apps) = match data {
        Ok(d) => d,
        Err(e) => return super::unavailable(e),
    };
    let sessions = sessions
        .into_iter()
        .map(|s| SessionLine {
            current: s.sid == person.session.sid,
            started: when(s.auth_time),
            mfa: s.amr.split_whitespace().any(|m| m == "otp"),
            sid: s.sid,
        })
        .collect();
    let apps = apps
        .into_iter()
        .map(|a| AppLine {
            client_id: a.client_id,
            name: a.client_name,
            scopes: a
                .scope
                .split_whitespace()
                .map(|s| pages::describe_scope(s).name)
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    pages::html(
        status,
        &AccountPage {
            username: &person.user.username,
            email: &person.user.email,
            notice,
            error,
            csrf: &person.csrf,
            mfa_enabled,
            mfa_mandatory: crate::mfa::is_mandatory(&person.user, state.config.mfa),
            recovery_left,
            sessions,
            apps,
        },
    )
}

/// Back to the account page after a change, with a notice named by `done`.
pub fn done(what: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("{}?done={what}", pages::paths::ACCOUNT),
        ))
        .finish()
}

/// The notice for a `done` value (a fixed list: nothing from the URL is echoed).
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "password" => "Your password was changed. Other sessions were signed out.",
        "mfa-on" => "Two-step verification is on.",
        "mfa-off" => "Two-step verification is off.",
        "session" => "The session was ended.",
        "sessions" => "Every other session was ended.",
        "app" => "The application's access was removed.",
        _ => return None,
    })
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let person = match person(&req, &state, clock::now()).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let query = Params::parse_first(req.query_string().as_bytes());
    page(
        &state,
        &person,
        StatusCode::OK,
        notice(query.get("done")),
        None,
    )
    .await
}

/// What a password change came to.
enum Change {
    Done,
    WrongCurrent,
    Throttled,
}

pub async fn change_password(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (params, person) = match post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let current = params.get("current_password").unwrap_or("").to_string();
    let new = params.get("new_password").unwrap_or("").to_string();
    let refuse = |status, message: String| {
        let (state, person) = (&state, &person);
        async move { page(state, person, status, None, Some(&message)).await }
    };
    if new != params.get("confirm_password").unwrap_or("") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "The new passwords do not match.".into(),
        )
        .await;
    }
    if let Err(e) = password_policy::check(&new, &person.user.username, &person.user.email) {
        return refuse(StatusCode::BAD_REQUEST, e.to_string()).await;
    }
    let user = person.user.clone();
    let keep_sid = person.session.sid.clone();
    let (account_key, ip_key) = password_keys(&user, &req);
    let blocked = password_blocked(&state, (account_key.clone(), ip_key.clone()), now).await;
    // Both argon2 calls (the current password, then the new one) run on the argon2 executor,
    // holding no database connection; a full queue refuses the change before any write.
    let outcome = match blocked {
        Ok(true) => Ok(Change::Throttled),
        Ok(false) => match state
            .hashing
            .verify(current, user.password_hash.clone())
            .await
        {
            Ok(false) => {
                state
                    .db
                    .run(move |conn| -> Result<Change, DbError> {
                        db::write_transaction(conn, |conn| {
                            record_password_failure(conn, &account_key, &ip_key, now)
                        })?;
                        Ok(Change::WrongCurrent)
                    })
                    .await
            }
            Ok(true) => match state.hashing.hash(new).await {
                Ok(hash) => {
                    state
                        .db
                        .run(move |conn| -> Result<Change, DbError> {
                            db::write_transaction(conn, |conn| {
                                db::users::set_password_hash(conn, &user.id, &hash)?;
                                db::sessions::delete_others(conn, &user.id, &keep_sid)?;
                                db::throttle::clear(conn, &account_key)
                            })?;
                            Ok(Change::Done)
                        })
                        .await
                }
                Err(e) => return super::hashing_refused(e),
            },
            Err(e) => return super::hashing_refused(e),
        },
        Err(e) => Err(e),
    };
    match outcome {
        Ok(Change::Done) => {
            tracing::info!(user_id = %person.user.id, "A person changed their password.");
            done("password")
        }
        Ok(Change::WrongCurrent) => {
            refuse(
                StatusCode::UNAUTHORIZED,
                "The current password is not correct.".into(),
            )
            .await
        }
        Ok(Change::Throttled) => {
            refuse(StatusCode::TOO_MANY_REQUESTS, login::THROTTLED.into()).await
        }
        Err(e) => super::unavailable(e),
    }
}

/// The throttling keys a password guess counts against: the account, as at sign-in, and the
/// client address.
pub fn password_keys(user: &User, req: &HttpRequest) -> (String, String) {
    (
        format!("account:{}", user.username.to_lowercase()),
        crate::mfa::ip_key(&client_ip(req)),
    )
}

/// Whether the account's or the address's password checks are blocked now: asked before an
/// argon2 check of the person's password.
pub async fn password_blocked(
    state: &AppState,
    (account_key, ip_key): (String, String),
    now: i64,
) -> Result<bool, DbError> {
    state
        .db
        .run(move |conn| -> Result<bool, DbError> {
            Ok(db::throttle::any_blocked(
                conn,
                &[&account_key, &ip_key],
                now,
            )?)
        })
        .await
}

/// Records a wrong password for the account and the address.
pub fn record_password_failure(
    conn: &mut db::Conn,
    account_key: &str,
    ip_key: &str,
    now: i64,
) -> diesel::QueryResult<()> {
    db::throttle::record_failure(conn, account_key, login::FREE_ACCOUNT_FAILURES, now)?;
    db::throttle::record_failure(conn, ip_key, login::FREE_IP_FAILURES, now)
}

pub async fn end_sessions(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (params, person) = match post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let others = params.get("others") == Some("yes");
    let sid = params.get("sid").unwrap_or("").to_string();
    if !others && sid.is_empty() {
        return page(
            &state,
            &person,
            StatusCode::BAD_REQUEST,
            None,
            Some("Choose a session to end."),
        )
        .await;
    }
    let (user_id, current_sid) = (person.user.id.clone(), person.session.sid.clone());
    let target = sid.clone();
    let ended = state
        .db
        .run(move |conn| -> Result<usize, DbError> {
            Ok(if others {
                db::sessions::delete_others(conn, &user_id, &current_sid)?
            } else {
                db::sessions::delete_for_user(conn, &user_id, &target)?
            })
        })
        .await;
    match ended {
        Ok(_) if others => done("sessions"),
        Ok(_) if sid == person.session.sid => HttpResponse::SeeOther()
            .cookie(session::removal(&state.config))
            .insert_header((header::LOCATION, "/"))
            .finish(),
        Ok(1) => done("session"),
        Ok(_) => {
            page(
                &state,
                &person,
                StatusCode::NOT_FOUND,
                None,
                Some("That session has already ended."),
            )
            .await
        }
        Err(e) => super::unavailable(e),
    }
}

pub async fn revoke_app(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (params, person) = match post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let client_id = params.get("client_id").unwrap_or("").to_string();
    let user_id = person.user.id.clone();
    let access_expiry = now + state.config.access_token_ttl.as_secs() as i64;
    let client = client_id.clone();
    let revoked = state
        .db
        .run(move |conn| -> Result<bool, DbError> {
            Ok(db::write_transaction(conn, |conn| {
                let had = db::consents::revoke(conn, &user_id, &client)?;
                for family in db::tokens::live_families(conn, &user_id, &client)? {
                    db::tokens::revoke_family(conn, &family, now, access_expiry)?;
                }
                diesel::QueryResult::Ok(had)
            })?)
        })
        .await;
    match revoked {
        Ok(true) => {
            tracing::info!(user_id = %person.user.id, client_id = %client_id, "A person removed an application's access.");
            done("app")
        }
        Ok(false) => {
            page(
                &state,
                &person,
                StatusCode::NOT_FOUND,
                None,
                Some("That application has no access to remove."),
            )
            .await
        }
        Err(e) => super::unavailable(e),
    }
}
