//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, and `none` for public clients.

use actix_web::HttpRequest;
use actix_web::http::header;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::crypto::random;
use crate::db::clients::Client;
use crate::db::{self, DbError};
use crate::domain::params::Params;
use crate::error::OAuthError;
use crate::state::AppState;

/// A client whose credentials were checked (or a public client that named itself).
pub struct AuthenticatedClient(pub Client);

/// Decodes one form-urlencoded component of the Basic credentials (RFC 6749 2.3.1).
fn form_decode(s: &str) -> Option<String> {
    let spaced = s.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// The (client_id, client_secret) of an `Authorization: Basic` header, if one was sent.
/// Public so that the fuzz targets call the real parser.
pub fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(OAuthError::invalid_client());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(OAuthError::invalid_client)?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(OAuthError::invalid_client)?;
    let id = form_decode(id).ok_or_else(OAuthError::invalid_client)?;
    let secret = form_decode(secret).ok_or_else(OAuthError::invalid_client)?;
    Ok(Some((id, secret)))
}

/// The client identification a request carries, read without the database.
pub struct Presented {
    pub client_id: String,
    secret: Option<String>,
}

/// Reads the client's id and secret from the Basic header or the form body.
pub fn presented(req: &HttpRequest, params: &Params) -> Result<Presented, OAuthError> {
    let basic = basic_credentials(req)?;
    let (client_id, secret) = match (basic, params.get("client_id"), params.get("client_secret")) {
        (Some(_), _, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        (Some((id, _)), Some(body_id), None) if id != body_id => {
            return Err(OAuthError::invalid_request(
                "client_id does not match the credentials",
            ));
        }
        (Some((id, secret)), _, None) => (id, Some(secret)),
        (None, Some(id), secret) => (id.to_string(), secret.map(str::to_string)),
        (None, None, _) => return Err(OAuthError::invalid_client()),
    };
    if client_id.len() > 128 {
        return Err(OAuthError::invalid_client());
    }
    Ok(Presented { client_id, secret })
}

/// Checks presented credentials against the client row looked up for `presented.client_id`:
/// the secret's SHA-256 compared in constant time. `allow_public`: whether a public client
/// may call.
pub fn check(
    presented: Presented,
    client: Option<Client>,
    allow_public: bool,
) -> Result<AuthenticatedClient, OAuthError> {
    let Some(client) = client else {
        tracing::info!(client_id = %presented.client_id,
            "Client authentication failed: unknown client.");
        return Err(OAuthError::invalid_client());
    };
    let ok = match (&client.secret_hash, presented.secret) {
        (Some(stored), Some(given)) => random::equal(stored, &random::hash(&given)),
        (None, None) => allow_public,
        _ => false,
    };
    if !ok {
        tracing::info!(client_id = %client.id, "Client authentication failed.");
        return Err(OAuthError::invalid_client());
    }
    Ok(AuthenticatedClient(client))
}

/// Authenticates the calling client. `allow_public`: whether a public client may call.
pub async fn authenticate(
    req: &HttpRequest,
    params: &Params,
    state: &AppState,
    allow_public: bool,
) -> Result<AuthenticatedClient, OAuthError> {
    let presented = presented(req, params)?;
    let lookup_id = presented.client_id.clone();
    let client = state
        .db
        .run(move |conn| db::clients::find(conn, &lookup_id).map_err(DbError::from))
        .await?;
    check(presented, client, allow_public)
}
