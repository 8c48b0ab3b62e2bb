//! The sign-in page: a CSRF-protected username and password form. A successful sign-in starts
//! a new session under a new cookie value and returns the browser to where it came from.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::pages::{self, LoginPage};
use super::session::{self, Browser};
use crate::audit::Actor;
use crate::clock;
use crate::config::MfaPolicy;
use crate::crypto::random;
use crate::db::sessions::Session;
use crate::db::users::User;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::hashing::Checked;
use crate::state::AppState;

/// The one message for every failed sign-in: it never says which part was wrong.
pub const FAILED: &str = "Incorrect username or password.";
/// The message while an account or address is throttled: it does not say which.
pub const THROTTLED: &str = "Too many failed sign-in attempts. Wait a minute and try again.";
/// Failures an account may have in a row before each further one is delayed.
pub const FREE_ACCOUNT_FAILURES: i32 = 5;
/// Failures one address may have (people behind one NAT share it).
pub const FREE_IP_FAILURES: i32 = 20;

/// Only our own authorization endpoint, the account page, the admin console, or the home page
/// may be returned to.
pub fn safe_return_to(raw: Option<&str>) -> String {
    match raw {
        Some(r) if r.starts_with("/authorize?") && !r.contains(['\\', '\r', '\n']) => r.to_string(),
        Some(r) if r == pages::paths::ACCOUNT => r.to_string(),
        Some(r)
            if (r == "/admin" || r.starts_with("/admin/")) && !r.contains(['\\', '\r', '\n']) =>
        {
            r.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The URL of the login page that comes back to `return_to`.
pub fn login_url(return_to: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{}?{query}", pages::paths::LOGIN)
}

/// Renders the form, giving the browser an anonymous cookie first if it has none.
fn form(
    state: &AppState,
    browser: &Browser,
    status: StatusCode,
    error: Option<&str>,
    username: &str,
    return_to: &str,
) -> HttpResponse {
    let mut builder = HttpResponse::build(status);
    let csrf = match &browser.cookie {
        Some(value) => session::csrf_token(value),
        None => {
            let (value, cookie) = session::new_anonymous(&state.config);
            builder.cookie(cookie);
            session::csrf_token(&value)
        }
    };
    pages::render_into(
        builder,
        &LoginPage {
            error,
            username,
            csrf: &csrf,
            return_to,
            registration_open: state.config.registration == crate::config::Registration::Open,
        },
    )
}

pub async fn show(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let params = Params::parse(req.query_string().as_bytes()).unwrap_or_default();
    let return_to = safe_return_to(params.get("return_to"));
    let browser = match session::load(&req, &state, clock::now()).await {
        Ok(b) => b,
        Err(e) => return super::unavailable(e),
    };
    form(&state, &browser, StatusCode::OK, None, "", &return_to)
}

pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let Ok(params) = Params::parse(&body) else {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The sign-in form was not sent correctly.",
        );
    };
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return super::unavailable(e),
    };
    if !session::csrf_valid(&browser, params.get("csrf_token")) {
        return pages::error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "This form has expired or was not sent from this browser. Go back and try again.",
        );
    }
    let return_to = safe_return_to(params.get("return_to"));
    let username = params.get("username").unwrap_or("").trim().to_string();
    let password_given = params.get("password").unwrap_or("").to_string();
    if username.is_empty() || password_given.is_empty() || username.len() > 64 {
        return form(
            &state,
            &browser,
            StatusCode::UNAUTHORIZED,
            Some(FAILED),
            &username,
            &return_to,
        );
    }

    let cookie_value = random::token();
    let new_session = Session {
        id_hash: random::hash(&cookie_value),
        sid: random::id(),
        user_id: String::new(),
        auth_time: now,
        amr: "pwd".into(),
        created_at: now,
        expires_at: now + state.config.session_ttl.as_secs() as i64,
    };
    let account_key = format!("account:{}", username.to_lowercase());
    let ip_key = format!("ip:{}", client_ip(&req));
    let name = username.clone();
    let keys = (account_key.clone(), ip_key.clone());
    let lookup = state
        .db
        .run(move |conn| -> Result<Lookup, DbError> {
            if db::throttle::any_blocked(conn, &[&keys.0, &keys.1], now)? {
                return Ok(Lookup::Throttled);
            }
            Ok(Lookup::Found(db::users::find_by_username(conn, &name)?))
        })
        .await;
    // The password is checked on the argon2 executor, holding no database connection; when
    // its queue is full the attempt is refused before anything is written.
    let outcome = match lookup {
        Ok(Lookup::Throttled) => Ok(Attempt::Throttled),
        Ok(Lookup::Found(user)) => {
            let verified = match &user {
                Some(u) => {
                    state
                        .hashing
                        .verify_and_rehash(password_given, u.password_hash.clone())
                        .await
                }
                None => state
                    .hashing
                    .verify_dummy(password_given)
                    .await
                    .map(|matched| Checked {
                        matched,
                        rehashed: None,
                    }),
            };
            match verified {
                Ok(checked) => {
                    let user = user.filter(|u| checked.matched && !u.disabled);
                    let step = Step {
                        user,
                        rehashed: checked.rehashed,
                        new_session,
                        old_hash: browser.cookie.as_deref().map(random::hash),
                        account_key,
                        ip_key,
                        return_to: return_to.clone(),
                    };
                    let policy = state.config.mfa;
                    state
                        .db
                        .run(move |conn| step.finish(conn, policy, now))
                        .await
                }
                Err(e) => {
                    state.metrics.login_failed("busy");
                    return super::hashing_refused(e);
                }
            }
        }
        Err(e) => Err(e),
    };
    let failed = |status, message| {
        form(
            &state,
            &browser,
            status,
            Some(message),
            &username,
            &return_to,
        )
    };
    match outcome {
        Ok(Attempt::SignedIn(session)) => {
            tracing::info!(user_id = %session.user_id, "A person signed in.");
            state
                .record_event(
                    now,
                    &Actor::User(session.user_id.clone()),
                    "user.signed_in",
                    &session.user_id,
                    "",
                )
                .await;
            let max_age = session.expires_at - now;
            HttpResponse::SeeOther()
                .cookie(session::cookie(&state.config, cookie_value, Some(max_age)))
                .insert_header((header::LOCATION, return_to))
                .finish()
        }
        Ok(Attempt::SecondFactor(user_id)) => {
            tracing::info!(user_id = %user_id, "A password was accepted; a second factor is due.");
            HttpResponse::SeeOther()
                .cookie(session::cookie(&state.config, cookie_value, None))
                .insert_header((header::LOCATION, pages::paths::MFA))
                .finish()
        }
        Ok(Attempt::Failed) => {
            tracing::info!("A sign-in failed.");
            state
                .record_event(
                    now,
                    &Actor::Anonymous,
                    "user.sign_in_failed",
                    "",
                    &format!("username {username}"),
                )
                .await;
            state.metrics.login_failed("wrong_credentials");
            failed(StatusCode::UNAUTHORIZED, FAILED)
        }
        Ok(Attempt::Throttled) => {
            tracing::warn!("A sign-in was refused: too many recent failures.");
            state
                .record_event(
                    now,
                    &Actor::Anonymous,
                    "user.sign_in_throttled",
                    "",
                    &format!("username {username}"),
                )
                .await;
            state.metrics.login_failed("throttled");
            let mut res = failed(StatusCode::TOO_MANY_REQUESTS, THROTTLED);
            res.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("60"));
            res
        }
        Err(e) => super::unavailable(e),
    }
}

/// What the database said before the password check.
enum Lookup {
    Throttled,
    Found(Option<User>),
}

/// What is written once the password was checked: `user` is the person when it matched.
struct Step {
    user: Option<User>,
    /// A fresh hash of the proven password, when the stored one has outdated parameters.
    rehashed: Option<String>,
    new_session: Session,
    old_hash: Option<String>,
    account_key: String,
    ip_key: String,
    return_to: String,
}

impl Step {
    /// Records the failure, or starts the session (or the pending second factor).
    fn finish(self, conn: &mut db::Conn, policy: MfaPolicy, now: i64) -> Result<Attempt, DbError> {
        let Step {
            user,
            rehashed,
            new_session,
            old_hash,
            account_key,
            ip_key,
            return_to,
        } = self;
        let Some(user) = user else {
            db::write_transaction(conn, |conn| {
                db::throttle::record_failure(conn, &account_key, FREE_ACCOUNT_FAILURES, now)?;
                db::throttle::record_failure(conn, &ip_key, FREE_IP_FAILURES, now)
            })?;
            return Ok(Attempt::Failed);
        };
        // The password is proven: a hash with outdated parameters is replaced, unless the
        // password changed meanwhile.
        let (user_id, stored) = (user.id.clone(), user.password_hash.clone());
        let upgrade = |conn: &mut db::Conn| -> diesel::QueryResult<()> {
            if let Some(new) = &rehashed
                && db::users::replace_password_hash(conn, &user_id, &stored, new)? == 1
            {
                tracing::info!(user_id = %user_id, "A stored password hash was upgraded to the current parameters.");
            }
            Ok(())
        };
        if crate::mfa::step_after_password(conn, &user, policy)? != crate::mfa::Step::None {
            let pending = db::mfa::Pending {
                id_hash: new_session.id_hash,
                user_id: user.id,
                return_to,
                created_at: now,
                expires_at: now + crate::mfa::PENDING_TTL,
            };
            db::write_transaction(conn, |conn| {
                if let Some(old) = &old_hash {
                    db::sessions::delete(conn, old)?;
                    db::mfa::delete_pending(conn, old, now)?;
                }
                db::throttle::clear(conn, &account_key)?;
                upgrade(conn)?;
                db::mfa::insert_pending(conn, &pending)
            })?;
            return Ok(Attempt::SecondFactor(pending.user_id));
        }
        let session = Session {
            user_id: user.id,
            ..new_session
        };
        db::write_transaction(conn, |conn| {
            if let Some(old) = &old_hash {
                db::sessions::delete(conn, old)?;
            }
            db::throttle::clear(conn, &account_key)?;
            upgrade(conn)?;
            db::sessions::insert(conn, &session)
        })?;
        Ok(Attempt::SignedIn(session))
    }
}

/// What one sign-in attempt came to.
enum Attempt {
    SignedIn(Session),
    /// The password was right; the browser now holds a pending sign-in for this user.
    SecondFactor(String),
    Failed,
    Throttled,
}

/// The address the request came from (the TCP peer: no forwarding header is trusted).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}
