//! The admin console: server-rendered pages under `/admin` for people with the admin role.
//! Every handler takes an [`AdminSession`]; every form carries the CSRF token and a successful
//! POST answers 303, except those that must show a new secret or password once.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::auth::AdminSession;
use super::console_clients::*;
use super::console_pages::*;
use super::console_users::*;
use super::paging::{Pager, console_slice};
use super::run_op;
use crate::clock;
use crate::crypto::alg::SigningAlg;
use crate::db::{self, Conn, DbError};
use crate::domain::params::Params;
use crate::manage::ManageError;
use crate::manage::ops::{self, By};
use crate::state::AppState;
use crate::web::pages;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(dashboard))
        .route("/admin/clients", web::get().to(clients))
        .route("/admin/clients", web::post().to(create_client))
        .route("/admin/clients/{id}", web::get().to(client))
        .route("/admin/clients/{id}", web::post().to(update_client))
        .route("/admin/clients/{id}/secret", web::post().to(rotate_secret))
        .route("/admin/clients/{id}/delete", web::post().to(delete_client))
        .route("/admin/users", web::get().to(users))
        .route("/admin/users", web::post().to(create_user))
        .route("/admin/users/{id}", web::get().to(user))
        .route("/admin/users/{id}", web::post().to(update_user))
        .route("/admin/users/{id}/status", web::post().to(set_status))
        .route("/admin/users/{id}/password", web::post().to(reset_password))
        .route("/admin/users/{id}/mfa", web::post().to(set_mfa_required))
        .route("/admin/users/{id}/mfa/reset", web::post().to(reset_mfa))
        .route("/admin/sessions", web::get().to(sessions))
        .route("/admin/sessions/{sid}/end", web::post().to(end_session))
        .route("/admin/keys", web::get().to(keys))
        .route("/admin/keys/rotate", web::post().to(rotate_key))
        .route("/admin/keys/{kid}/retire", web::post().to(retire_key))
        .route("/admin/audit", web::get().to(audit));
}

pub(super) fn page<T: Template>(status: StatusCode, page: &T) -> HttpResponse {
    pages::html(status, page)
}

pub(super) fn see_other(location: String) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// The confirmation named by `?notice=` (fixed texts only: nothing from the URL is echoed).
pub(super) fn notice(req: &HttpRequest) -> Option<&'static str> {
    let params = Params::parse(req.query_string().as_bytes()).ok()?;
    Some(match params.get("notice")? {
        "created" => "Created.",
        "saved" => "Saved.",
        "deleted" => "Deleted.",
        "ended" => "The session was ended.",
        "rotated" => "A new signing key now signs tokens.",
        "retired" => "The key was retired.",
        "password" => "The password was changed; the user was signed out everywhere.",
        "mfa-reset" => "The second factor was removed.",
        _ => return None,
    })
}

/// The parsed form, if it carries this browser's CSRF token; otherwise the refusal page.
// The error is the finished answer page, built once on a path that ends the request.
#[allow(clippy::result_large_err)]
pub(super) fn form(admin: &AdminSession, body: &[u8]) -> Result<Params, HttpResponse> {
    let params = Params::parse(body).map_err(|_| {
        pages::error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The form was not sent correctly.",
        )
    })?;
    if !admin.csrf_ok(params.get("csrf_token")) {
        tracing::warn!(user_id = %admin.user.id, "An admin form was refused: bad CSRF token.");
        return Err(pages::error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "This form has expired or was not sent from this browser. Go back and try again.",
        ));
    }
    Ok(params)
}

/// A console button: checks the form's CSRF token, runs one audited operation, and sends the
/// admin to `done`; a refused or failed operation gets the error page.
pub(super) async fn act<F>(
    admin: AdminSession,
    state: &AppState,
    body: &[u8],
    done: String,
    op: F,
) -> HttpResponse
where
    F: FnOnce(&mut Conn, &By<'_>) -> Result<(), ManageError> + Send + 'static,
{
    if let Err(res) = form(&admin, body) {
        return res;
    }
    match run_op(state, admin.actor(), op).await {
        Ok(()) => see_other(done),
        Err(e) => failure(e),
    }
}

/// The page for an error that is not about the form's values.
pub(super) fn failure(e: ManageError) -> HttpResponse {
    match e {
        ManageError::NotFound(what) => pages::error_page(
            StatusCode::NOT_FOUND,
            "Not found",
            &format!("There is no {what}."),
        ),
        ManageError::Db(db) => crate::web::unavailable(db),
        ManageError::Busy => crate::web::too_busy(),
        other => {
            tracing::error!(error = %other, "An admin operation failed.");
            pages::error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The operation could not be completed.",
            )
        }
    }
}

/// A message to show beside the form, for errors about the form's values.
#[allow(clippy::result_large_err)]
pub(super) fn form_error(e: ManageError) -> Result<String, HttpResponse> {
    match e {
        ManageError::Invalid(m) => Ok(m),
        ManageError::Exists(_) => Ok(e.to_string()),
        other => Err(failure(other)),
    }
}

async fn dashboard(
    admin: AdminSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let now = clock::now();
    let loaded = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            Ok((db::admin::counts(conn, now)?, db::keys::all(conn)?))
        })
        .await;
    match loaded {
        Ok((counts, rows)) => page(
            StatusCode::OK,
            &DashboardPage {
                nav: "dashboard",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice: notice(&req),
                error: None,
                counts,
                keys: key_lines(&rows, now),
                with_actions: false,
            },
        ),
        Err(e) => crate::web::unavailable(e),
    }
}

async fn sessions(
    admin: AdminSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    let now = clock::now();
    let (slice, page_no) = console_slice(req.query_string());
    let asked = slice.clone();
    match state
        .db
        .run(move |conn| db::admin::live_sessions(conn, now, &asked).map_err(DbError::from))
        .await
    {
        Ok(list) => page(
            StatusCode::OK,
            &SessionsPage {
                nav: "sessions",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice: notice(&req),
                error: None,
                pager: Pager::new("/admin/sessions", &slice, page_no, list.total),
                sessions: list.rows.into_iter().map(SessionLine::from).collect(),
            },
        ),
        Err(e) => crate::web::unavailable(e),
    }
}

async fn end_session(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let sid = path.into_inner();
    let done = "/admin/sessions?notice=ended".to_string();
    act(admin, &state, &body, done, move |conn, by| {
        ops::end_session(conn, by, &sid)
    })
    .await
}

async fn keys_page(
    admin: AdminSession,
    state: &AppState,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
) -> HttpResponse {
    let now = clock::now();
    match state
        .db
        .run(|conn| db::keys::all(conn).map_err(DbError::from))
        .await
    {
        Ok(rows) => page(
            status,
            &KeysPage {
                nav: "keys",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice,
                error,
                keys: key_lines(&rows, now),
                with_actions: true,
            },
        ),
        Err(e) => crate::web::unavailable(e),
    }
}

async fn keys(admin: AdminSession, state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    keys_page(admin, &state, StatusCode::OK, notice(&req), None).await
}

async fn rotate_key(
    admin: AdminSession,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = form(&admin, &body) {
        return res;
    }
    let vault = crate::crypto::keys::KeyVault::from_config(&state.config);
    let prepublish = state.config.key_prepublish.as_secs() as i64;
    match run_op(&state, admin.actor(), move |conn, by| {
        ops::rotate_key(conn, by, &vault, &SigningAlg::ALL, prepublish)
    })
    .await
    {
        Ok(_) => see_other("/admin/keys?notice=rotated".into()),
        Err(e) => failure(e),
    }
}

async fn retire_key(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = form(&admin, &body) {
        return res;
    }
    let kid = path.into_inner();
    match run_op(&state, admin.actor(), move |conn, by| {
        ops::retire_key(conn, by, &kid)
    })
    .await
    {
        Ok(()) => see_other("/admin/keys?notice=retired".into()),
        Err(e) => match form_error(e) {
            Ok(message) => {
                keys_page(
                    admin,
                    &state,
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

async fn audit(admin: AdminSession, state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let (slice, page_no) = console_slice(req.query_string());
    let asked = slice.clone();
    let loaded = state
        .db
        .run(move |conn| {
            db::audit::search(conn, asked.text(), asked.offset, asked.limit).map_err(DbError::from)
        })
        .await;
    let (rows, total) = match loaded {
        Ok(r) => r,
        Err(e) => return crate::web::unavailable(e),
    };
    page(
        StatusCode::OK,
        &AuditPage {
            nav: "audit",
            csrf: admin.csrf,
            admin_name: admin.user.username,
            notice: None,
            error: None,
            pager: Pager::new("/admin/audit", &slice, page_no, total),
            events: rows.into_iter().map(AuditLine::from).collect(),
        },
    )
}
