//! The `/mfa` step of a sign-in: after a correct password the browser holds a pending sign-in
//! (its cookie value names a short-lived row, not a session), and only a TOTP code or a
//! recovery code turns it into a session, under a new cookie value. A person who must use MFA
//! and has none enrolls here first.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::login::client_ip;
use super::pages;
use super::session::{self, Browser};
use crate::audit::Actor;
use crate::clock;
use crate::crypto::{random, totp};
use crate::db::mfa::Pending;
use crate::db::sessions::Session;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::mfa::{self, Verdict};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "mfa.html")]
pub struct CodePage<'a> {
    pub error: Option<&'a str>,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "mfa_enrol.html")]
pub struct EnrolPage<'a> {
    pub error: Option<&'a str>,
    pub csrf: &'a str,
    /// Where the confirmation code is posted.
    pub action: &'a str,
    /// The QR code as a data: URI.
    pub qr: Option<String>,
    /// The secret, grouped by four characters.
    pub secret: String,
    /// Shown during sign-in, when the account may not go on without MFA.
    pub required: bool,
}

#[derive(Template)]
#[template(path = "recovery_codes.html")]
pub struct RecoveryPage<'a> {
    pub codes: Vec<String>,
    pub continue_to: &'a str,
}

/// The enrolment page for a secret.
pub fn enrol_page<'a>(
    secret: &str,
    username: &str,
    csrf: &'a str,
    action: &'a str,
    error: Option<&'a str>,
    required: bool,
) -> EnrolPage<'a> {
    EnrolPage {
        error,
        csrf,
        action,
        qr: totp::qr_data_uri(secret, "Tessera", username),
        secret: totp::display_secret(secret),
        required,
    }
}

/// Renders an enrolment page: its policy also allows the QR code's `data:` image.
pub fn enrol_response(status: StatusCode, page: &EnrolPage<'_>) -> HttpResponse {
    let mut res = pages::html(status, page);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(super::CSP_DATA_IMAGES),
    );
    res
}

/// The browser's pending sign-in, if it has a live one.
async fn pending(
    state: &AppState,
    browser: &Browser,
    now: i64,
) -> Result<Option<Pending>, DbError> {
    let Some(cookie) = &browser.cookie else {
        return Ok(None);
    };
    let id_hash = random::hash(cookie);
    state
        .db
        .run(move |conn| db::mfa::find_pending(conn, &id_hash, now).map_err(DbError::from))
        .await
}

fn expired() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, pages::paths::LOGIN))
        .finish()
}

/// What the page for a pending sign-in shows.
enum View {
    Code,
    Enrol { secret: String, username: String },
}

async fn view(state: &AppState, user_id: String, now: i64) -> Result<View, DbError> {
    state
        .db
        .run(move |conn| {
            let username = db::users::find(conn, &user_id)?
                .map(|u| u.username)
                .unwrap_or_default();
            Ok(match mfa::enrolment_secret(conn, &user_id, now)? {
                None => View::Code,
                Some(secret) => View::Enrol { secret, username },
            })
        })
        .await
}

fn render(status: StatusCode, view: &View, csrf: &str, error: Option<&str>) -> HttpResponse {
    match view {
        View::Code => pages::html(status, &CodePage { error, csrf }),
        View::Enrol { secret, username } => enrol_response(
            status,
            &enrol_page(secret, username, csrf, pages::paths::MFA, error, true),
        ),
    }
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let now = clock::now();
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return super::unavailable(e),
    };
    let pending = match pending(&state, &browser, now).await {
        Ok(Some(p)) => p,
        Ok(None) => return expired(),
        Err(e) => return super::unavailable(e),
    };
    let csrf = browser.csrf().unwrap_or_default();
    match view(&state, pending.user_id, now).await {
        Ok(v) => render(StatusCode::OK, &v, &csrf, None),
        Err(e) => super::unavailable(e),
    }
}

/// What one code sent to `/mfa` came to.
enum Outcome {
    SignedIn(Session),
    Enrolled(Session, Vec<String>),
    Refused(Verdict),
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
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
    let pending = match pending(&state, &browser, now).await {
        Ok(Some(p)) => p,
        Ok(None) => return expired(),
        Err(e) => return super::unavailable(e),
    };
    let code = params.get("code").unwrap_or("").to_string();
    let ip = client_ip(&req);
    let cookie_value = random::token();
    let new_session = Session {
        id_hash: random::hash(&cookie_value),
        sid: random::id(),
        user_id: pending.user_id.clone(),
        auth_time: now,
        amr: mfa::AMR_MFA.into(),
        created_at: now,
        expires_at: now + state.config.session_ttl.as_secs() as i64,
    };
    let (user_id, pending_hash) = (pending.user_id.clone(), pending.id_hash.clone());
    let outcome = state
        .db
        .run(move |conn| -> Result<Outcome, DbError> {
            let enrolled = db::mfa::credential(conn, &user_id)?.is_some_and(|c| c.confirmed);
            let codes = if enrolled {
                let verdict = mfa::check_code(conn, &user_id, &ip, &code, true, true, now)?;
                if !verdict.passed() {
                    return Ok(Outcome::Refused(verdict));
                }
                None
            } else {
                match mfa::confirm_enrolment(conn, &user_id, &ip, &code, now)? {
                    Ok(codes) => Some(codes),
                    Err(verdict) => return Ok(Outcome::Refused(verdict)),
                }
            };
            db::write_transaction(conn, |conn| {
                db::mfa::delete_pending(conn, &pending_hash, now)?;
                db::sessions::insert(conn, &new_session)
            })?;
            Ok(match codes {
                Some(codes) => Outcome::Enrolled(new_session, codes),
                None => Outcome::SignedIn(new_session),
            })
        })
        .await;
    let session_cookie = |s: &Session| {
        session::cookie(
            &state.config,
            cookie_value.clone(),
            Some(s.expires_at - now),
        )
    };
    match outcome {
        Ok(Outcome::SignedIn(s)) => {
            tracing::info!(user_id = %s.user_id, "A person signed in with a second factor.");
            state
                .record_event(
                    now,
                    &Actor::User(s.user_id.clone()),
                    "user.signed_in",
                    &s.user_id,
                    "with a second factor",
                )
                .await;
            HttpResponse::SeeOther()
                .cookie(session_cookie(&s))
                .insert_header((header::LOCATION, pending.return_to))
                .finish()
        }
        Ok(Outcome::Enrolled(s, codes)) => {
            tracing::info!(user_id = %s.user_id, "A person enrolled TOTP at sign-in and signed in.");
            state
                .record_event(
                    now,
                    &Actor::User(s.user_id.clone()),
                    "user.signed_in",
                    &s.user_id,
                    "enrolled a second factor",
                )
                .await;
            let mut builder = HttpResponse::Ok();
            builder.cookie(session_cookie(&s));
            pages::render_into(
                builder,
                &RecoveryPage {
                    codes,
                    continue_to: &pending.return_to,
                },
            )
        }
        Ok(Outcome::Refused(verdict)) => {
            tracing::info!(user_id = %pending.user_id, "A second-factor code was refused.");
            state
                .record_event(
                    now,
                    &Actor::Anonymous,
                    "user.second_factor_failed",
                    &pending.user_id,
                    "",
                )
                .await;
            let csrf = browser.csrf().unwrap_or_default();
            let status = if verdict == Verdict::Throttled {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let mut res = match view(&state, pending.user_id, now).await {
                Ok(v) => render(status, &v, &csrf, Some(verdict.message())),
                Err(e) => return super::unavailable(e),
            };
            if verdict == Verdict::Throttled {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            }
            res
        }
        Err(e) => super::unavailable(e),
    }
}
