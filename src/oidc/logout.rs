//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the SSO session and
//! returns to a registered `post_logout_redirect_uri` with `state`.
//!
//! With an `id_token_hint` naming the current session the logout happens at once; otherwise the
//! person confirms with a CSRF-protected form, so a third-party page cannot sign them out.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::claims::IdTokenClaims;
use crate::clock;
use crate::crypto::{jwt, random};
use crate::db::clients::Client;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::domain::redirect;
use crate::state::AppState;
use crate::web::pages::{self, LogoutPage, SignedOutPage, error_page};
use crate::web::session::{self, Browser};
use crate::web::unavailable;

/// Parameters the confirmation form carries back.
const CARRIED: &[&str] = &[
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
];

/// A validated logout request.
struct LogoutRequest {
    hint: Option<IdTokenClaims>,
    client: Option<Client>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

fn bad(message: &str) -> HttpResponse {
    error_page(
        StatusCode::BAD_REQUEST,
        "This sign-out request cannot be used",
        message,
    )
}

async fn validate(state: &AppState, params: &Params) -> Result<LogoutRequest, HttpResponse> {
    let hint = match params.get("id_token_hint") {
        Some(token) => Some(
            jwt::verify::<IdTokenClaims>(
                &state.keys.get(),
                token,
                "JWT",
                &state.config.issuer,
                None,
                0,
            )
            .map_err(|_| bad("The id_token_hint is not a valid ID token from this provider."))?,
        ),
        None => None,
    };
    let client_id = match (
        hint.as_ref().and_then(|h| h.client_id()),
        params.get("client_id"),
    ) {
        (Some(a), Some(b)) if a != b => {
            return Err(bad("client_id does not match the id_token_hint."));
        }
        (Some(a), _) => Some(a.to_string()),
        (None, b) => b.map(str::to_string),
    };
    let client = match client_id {
        Some(id) => Some(
            state
                .db
                .run(move |conn| db::clients::find(conn, &id).map_err(DbError::from))
                .await
                .map_err(unavailable)?
                .ok_or_else(|| bad("The application is not registered here."))?,
        ),
        None => None,
    };
    let post_logout_redirect_uri = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => match &client {
            Some(c) if redirect::matches(&c.post_logout_redirect_uris, uri) => {
                Some(uri.to_string())
            }
            Some(_) => {
                return Err(bad(
                    "The post_logout_redirect_uri is not registered for this application.",
                ));
            }
            None => {
                return Err(bad(
                    "A post_logout_redirect_uri needs an id_token_hint or a client_id.",
                ));
            }
        },
    };
    Ok(LogoutRequest {
        hint,
        client,
        post_logout_redirect_uri,
        state: params.get("state").map(str::to_string),
    })
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    handle(
        req.clone(),
        state,
        req.query_string().as_bytes().to_vec(),
        false,
    )
    .await
}

pub async fn post(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    handle(req, state, body.to_vec(), true).await
}

async fn handle(
    req: HttpRequest,
    state: web::Data<AppState>,
    raw: Vec<u8>,
    is_post: bool,
) -> HttpResponse {
    let now = clock::now();
    let Ok(params) = Params::parse(&raw) else {
        return bad("The request is malformed.");
    };
    let request = match validate(&state, &params).await {
        Ok(r) => r,
        Err(page) => return page,
    };
    let browser = match session::load(&req, &state, now).await {
        Ok(b) => b,
        Err(e) => return unavailable(e),
    };
    let Some(current) = browser.session.as_ref() else {
        // Nobody is signed in here: nothing to end.
        return finish(&request, is_post);
    };
    let hint_names_session = request.hint.as_ref().is_some_and(|h| {
        h.sub == current.user_id && h.sid.as_deref() == Some(current.sid.as_str())
    });
    let confirmed = is_post
        && params.get("confirm") == Some("yes")
        && session::csrf_valid(&browser, params.get("csrf_token"));
    if !hint_names_session && !confirmed {
        return confirm_page(&browser, &request, &params);
    }
    let id_hash = current.id_hash.clone();
    if let Err(e) = state
        .db
        .run(move |conn| db::sessions::delete(conn, &id_hash).map_err(DbError::from))
        .await
    {
        return unavailable(e);
    }
    tracing::info!(user_id = %current.user_id, "A person signed out.");
    let mut res = finish(&request, is_post);
    let _ = res.add_cookie(&session::removal(&state.config));
    res
}

/// Where the browser goes after the session ended (or when there was none).
fn finish(request: &LogoutRequest, is_post: bool) -> HttpResponse {
    let Some(uri) = &request.post_logout_redirect_uri else {
        return pages::html(StatusCode::OK, &SignedOutPage);
    };
    let Ok(mut url) = url::Url::parse(uri) else {
        return bad("The post_logout_redirect_uri is not valid.");
    };
    if let Some(s) = &request.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    let status = if is_post {
        StatusCode::SEE_OTHER
    } else {
        StatusCode::FOUND
    };
    HttpResponse::build(status)
        .insert_header((header::LOCATION, url.as_str()))
        .finish()
}

fn confirm_page(browser: &Browser, request: &LogoutRequest, params: &Params) -> HttpResponse {
    let csrf = browser.csrf().unwrap_or_else(random::token);
    let fields = params
        .pairs()
        .filter(|(k, v)| CARRIED.contains(k) && !v.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    pages::html(
        StatusCode::OK,
        &LogoutPage {
            client_name: request.client.as_ref().map(|c| c.name.as_str()),
            fields,
            csrf: &csrf,
        },
    )
}
