//! The token endpoint (RFC 6749 3.2): authenticates the client, dispatches on `grant_type`,
//! and answers with tokens that are never cached.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::client_auth;
use super::grants;
use crate::clock;
use crate::domain::params::Params;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// What a successful grant hands back.
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

/// Parses a form body, refusing other content types, repeats and oversized values.
pub fn form_params(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body).map_err(|e| OAuthError::invalid_request(e.to_string()))
}

pub async fn token(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let client = client_auth::authenticate(&req, &params, &state, true)
        .await?
        .0;
    let now = clock::now();
    let grant = params.get("grant_type").unwrap_or_default().to_string();
    let issued = match params.get("grant_type") {
        Some("authorization_code") => {
            grants::authorization_code(&state, &client, &params, now).await?
        }
        Some("refresh_token") => grants::refresh_token(&state, &client, &params, now).await?,
        Some("client_credentials") => grants::client_credentials(&state, &client, &params, now)?,
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "this grant type is not supported",
            ));
        }
        None => return Err(OAuthError::invalid_request("grant_type is required")),
    };
    state.metrics.token_issued(&grant);
    let mut body = serde_json::json!({
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
    });
    if !issued.scope.is_empty() {
        body["scope"] = issued.scope.into();
    }
    if let Some(t) = issued.id_token {
        body["id_token"] = t.into();
    }
    if let Some(t) = issued.refresh_token {
        body["refresh_token"] = t.into();
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(body))
}
