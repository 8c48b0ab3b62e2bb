//! The consent step of an authorization: the page that names the client and what each scope
//! grants, and the CSRF-protected answer. Consent is remembered per user, client and scope.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::{self, AuthRequest, redirect_error};
use crate::clock;
use crate::db::sessions::Session;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::domain::scope::Scopes;
use crate::error::ErrorCode;
use crate::state::AppState;
use crate::web::pages::{self, ConsentPage, describe_scope, error_page};
use crate::web::session::{self, Browser};
use crate::web::{login, unavailable};

/// Renders the consent page for a validated request.
pub async fn show(
    state: &AppState,
    browser: &Browser,
    request: &AuthRequest,
    session: &Session,
) -> HttpResponse {
    let user_id = session.user_id.clone();
    let user = match state
        .db
        .run(move |conn| db::users::find(conn, &user_id).map_err(DbError::from))
        .await
    {
        Ok(u) => u,
        Err(e) => return unavailable(e),
    };
    let username = user.map(|u| u.username).unwrap_or_default();
    let csrf = browser.csrf().unwrap_or_default();
    pages::html(
        StatusCode::OK,
        &ConsentPage {
            client_name: &request.client.name,
            username: &username,
            scopes: request.scope.iter().map(describe_scope).collect(),
            fields: request.carried_fields(),
            csrf: &csrf,
        },
    )
}

/// The person's answer: `decision=allow` issues a code, anything else is a refusal.
pub async fn submit(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let status = StatusCode::SEE_OTHER;
    let Ok(form) = Params::parse(&body) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Invalid request",
            "The consent form was not sent correctly.",
        );
    };
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    if !session::csrf_valid(&browser, form.get("csrf_token")) {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Form expired",
            "This form has expired or was not sent from this browser. Go back to the application and try again.",
        );
    }
    let raw = form.encode_without(&["csrf_token", "decision"]);
    let request = match authorize::validate(&state, raw.as_bytes()).await {
        Ok(r) => r,
        Err(e) => return authorize::error_response(&state, e, status),
    };
    let Some(session) = browser.session.clone() else {
        return HttpResponse::SeeOther()
            .insert_header(("Location", login::login_url(&format!("/authorize?{raw}"))))
            .finish();
    };
    if form.get("decision") != Some("allow") {
        tracing::info!(client_id = %request.client.id, user_id = %session.user_id, "A person refused consent.");
        return authorize::error_response(
            &state,
            redirect_error(
                &request,
                ErrorCode::AccessDenied,
                "the person refused access",
            ),
            status,
        );
    }
    let (user_id, client_id, scope) = (
        session.user_id.clone(),
        request.client.id.clone(),
        request.scope.clone(),
    );
    // Remember the union of what was granted before and now.
    if let Err(e) = state
        .db
        .run(move |conn| {
            let before = db::consents::granted(conn, &user_id, &client_id)?;
            let merged = match before.and_then(|b| Scopes::parse(&b).ok()) {
                Some(b) => b.union(&scope).to_string(),
                None => scope.to_string(),
            };
            db::consents::grant(conn, &user_id, &client_id, &merged, now).map_err(DbError::from)
        })
        .await
    {
        return unavailable(e);
    }
    authorize::issue_code(&state, &request, &session, now, status).await
}
