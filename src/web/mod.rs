//! Pages for people (login, consent, home), the session cookie and CSRF, security headers,
//! and the routing table of the whole application.

pub mod account;
pub mod account_mfa;
pub mod login;
pub mod mfa;
pub mod pages;
pub mod register;
pub mod session;

use actix_cors::Cors;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Condition, DefaultHeaders};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::clock;
use crate::db::DbError;
use crate::oidc;
use crate::state::AppState;
use pages::paths;

/// Largest request body accepted anywhere; larger ones get 413.
pub const MAX_BODY: usize = 64 * 1024;

const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                   base-uri 'none'; frame-ancestors 'none'";

/// The policy of the pages that show a QR code as a `data:` image (TOTP enrolment) and only
/// those: the same as every page's, plus `data:` images.
pub const CSP_DATA_IMAGES: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                                   base-uri 'none'; frame-ancestors 'none'";

/// CORS for the endpoints a single-page app calls from another origin: discovery, JWKS,
/// token and userinfo (never the authorization endpoint or the pages).
pub fn cors() -> Cors {
    Cors::default()
        .allow_any_origin()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .max_age(3600)
}

/// The routing table of the whole application.
pub fn configure_app(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(MAX_BODY)).service(
        web::scope("")
            .wrap(security_headers())
            .configure(oidc::configure)
            .configure(crate::admin::configure)
            .route(paths::LOGIN, web::get().to(login::show))
            .route(paths::LOGIN, web::post().to(login::submit))
            .configure(people_routes)
            .route("/", web::get().to(home))
            .route(paths::STYLESHEET, web::get().to(stylesheet))
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(crate::metrics::serve))
            .default_service(web::to(not_found)),
    );
}

/// Pages for people beyond sign-in: the MFA step, the account, registration.
fn people_routes(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::MFA, web::get().to(mfa::show))
        .route(paths::MFA, web::post().to(mfa::submit))
        .route(paths::ACCOUNT, web::get().to(account::show))
        .route(
            "/account/password",
            web::post().to(account::change_password),
        )
        .route(
            "/account/sessions/end",
            web::post().to(account::end_sessions),
        )
        .route("/account/apps/revoke", web::post().to(account::revoke_app))
        .route("/account/mfa/setup", web::post().to(account_mfa::setup))
        .route("/account/mfa/confirm", web::post().to(account_mfa::confirm))
        .route(
            "/account/mfa/recovery",
            web::post().to(account_mfa::recovery),
        )
        .route("/account/mfa/disable", web::post().to(account_mfa::disable))
        .route(paths::REGISTER, web::get().to(register::show))
        .route(paths::REGISTER, web::post().to(register::submit));
}

/// The page for a form body that could not be read.
pub fn bad_form() -> HttpResponse {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Invalid request",
        "The form was not sent correctly.",
    )
}

/// The page for a form whose CSRF token is missing or wrong.
pub fn form_expired() -> HttpResponse {
    pages::error_page(
        StatusCode::BAD_REQUEST,
        "Form expired",
        "This form has expired or was not sent from this browser. Go back and try again.",
    )
}

/// Headers every answer carries (harmless on JSON, required on HTML pages).
fn security_headers() -> DefaultHeaders {
    DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, CSP))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::REFERRER_POLICY, "no-referrer"))
}

/// HSTS, added when the issuer is https.
pub fn hsts(enabled: bool) -> Condition<DefaultHeaders> {
    Condition::new(
        enabled,
        DefaultHeaders::new().add((
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=31536000; includeSubDomains",
        )),
    )
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(include_str!("../../static/tessera.css"))
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready when the database answers a query and takes a write transaction (an SQLite file
/// locked by another process past the busy timeout is not ready: sign-ins and grants would fail).
async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let outcome = state
        .db
        .run(|conn| {
            crate::db::users::admin_exists(conn)?;
            crate::db::write_transaction(conn, |_| Ok::<_, DbError>(()))
        })
        .await;
    match outcome {
        Ok(_) => HttpResponse::Ok().content_type("text/plain").body("ready"),
        Err(e) => {
            tracing::warn!(error = %e, "Readiness check failed.");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::RETRY_AFTER, "5"))
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}

async fn home(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let browser = match session::load(&req, &state, clock::now()).await {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    let username = match &browser.session {
        Some(s) => {
            let user_id = s.user_id.clone();
            state
                .db
                .run(move |conn| crate::db::users::find(conn, &user_id).map_err(DbError::from))
                .await
                .ok()
                .flatten()
                .map(|u| u.username)
        }
        None => None,
    };
    let csrf = browser.csrf().unwrap_or_default();
    pages::html(
        StatusCode::OK,
        &pages::HomePage {
            username: username.as_deref(),
            csrf: &csrf,
        },
    )
}

async fn not_found() -> HttpResponse {
    pages::error_page(
        StatusCode::NOT_FOUND,
        "Page not found",
        "There is nothing at this address.",
    )
}

/// The page shown when too many passwords are being checked to take one more: nothing was
/// done, and the person may simply try again.
pub fn too_busy() -> HttpResponse {
    tracing::warn!("A password check was refused: the argon2 queue is full.");
    let mut res = pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Too many sign-ins right now",
        "Too many people are signing in right now. Nothing was changed: please try again in \
         a few seconds.",
    );
    res.headers_mut().insert(
        header::RETRY_AFTER,
        header::HeaderValue::from(crate::hashing::RETRY_AFTER_SECS),
    );
    res
}

/// The page for a password that could not be checked or hashed: the queue was full, or the
/// argon2 threads are gone.
pub fn hashing_refused(e: crate::hashing::HashingError) -> HttpResponse {
    match e {
        crate::hashing::HashingError::Busy => too_busy(),
        crate::hashing::HashingError::Failed => unavailable(DbError::Blocking),
    }
}

/// The page shown when the database cannot be reached.
pub fn unavailable(e: DbError) -> HttpResponse {
    tracing::error!(error = %e, "A page could not reach the database.");
    let mut res = pages::error_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "Tessera cannot serve this page right now. Please try again in a moment.",
    );
    res.headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
    res
}
