//! Token introspection (RFC 7662) and revocation (RFC 7009).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::client_auth;
use super::token::form_params;
use super::userinfo::{verify_access_signature, verify_access_token};
use crate::audit::{Actor, event};
use crate::clock;
use crate::crypto::random;
use crate::db::{self, DbError};
use crate::error::OAuthError;
use crate::state::AppState;

fn no_store(body: serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Confidential clients (resource servers) may introspect access tokens; refresh tokens
/// introspect as active only for the client they were issued to.
///
/// The access token's signature is checked first, without the database; then one database
/// call reads the client row and the token's revocation (or its refresh-token row).
pub async fn introspect(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let presented = client_auth::presented(&req, &params)?;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_string();
    let now = clock::now();
    let access = verify_access_signature(&state, &token, now);
    let client_id = presented.client_id.clone();
    let jti = access.as_ref().map(|c| c.jti.clone());
    let hash = access.is_none().then(|| random::hash(&token));
    let (client, revoked, row) = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            // A signed access token: the client and the token's revocation in one query.
            let found = match &jti {
                Some(jti) => db::clients::find_with_revocation(conn, &client_id, jti)?,
                None => db::clients::find(conn, &client_id)?.map(|client| (client, false)),
            };
            let Some((client, revoked)) = found else {
                return Ok((None, false, None));
            };
            let row = match &hash {
                Some(hash) => db::tokens::find(conn, hash)?,
                None => None,
            };
            Ok((Some(client), revoked, row))
        })
        .await?;
    let client = client_auth::check(presented, client, false)?.0;
    if let Some(c) = access {
        if revoked {
            return Ok(no_store(serde_json::json!({ "active": false })));
        }
        let mut body = serde_json::json!({
            "active": true,
            "iss": c.iss,
            "sub": c.sub,
            "aud": c.aud,
            "client_id": c.client_id,
            "jti": c.jti,
            "iat": c.iat,
            "exp": c.exp,
            "token_type": "Bearer",
        });
        if !c.scope.is_empty() {
            body["scope"] = c.scope.into();
        }
        return Ok(no_store(body));
    }
    match row {
        Some(r) if r.is_live(now) && r.client_id == client.id => Ok(no_store(serde_json::json!({
            "active": true,
            "iss": state.config.issuer,
            "sub": r.user_id,
            "client_id": r.client_id,
            "scope": r.scope,
            "iat": r.created_at,
            "exp": r.idle_expires_at.min(r.family_expires_at),
            "token_type": "refresh_token",
        }))),
        _ => Ok(no_store(serde_json::json!({ "active": false }))),
    }
}

/// Revokes a refresh token (and its whole family) or an access token, if it belongs to the
/// calling client. Unknown tokens are answered 200 as well (RFC 7009 2.2).
pub async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let params = form_params(&req, &body)?;
    let client = client_auth::authenticate(&req, &params, &state, true)
        .await?
        .0;
    let token = params
        .get("token")
        .ok_or_else(|| OAuthError::invalid_request("token is required"))?
        .to_string();
    let now = clock::now();
    let access_ttl = state.config.access_token_ttl.as_secs() as i64;
    let access = verify_access_token(&state, &token, now).await?;
    let client_id = client.id.clone();
    let hash = random::hash(&token);
    let audit = state.audit.clone();
    state
        .db
        .run(move |conn| -> Result<(), DbError> {
            if let Some(claims) = access.filter(|c| c.client_id == client_id) {
                db::tokens::revoke_access(conn, &claims.jti, claims.exp)?;
                tracing::info!(client_id = %client_id, "Revoked an access token.");
            } else if let Some(row) =
                db::tokens::find(conn, &hash)?.filter(|r| r.client_id == client_id)
            {
                db::tokens::revoke_family(conn, &row.family_id, now, now + access_ttl)?;
                tracing::info!(client_id = %client_id, "Revoked a refresh token family.");
                audit.record(
                    conn,
                    event(
                        now,
                        &Actor::Client(client_id.clone()),
                        "token.family_revoked",
                        &row.user_id,
                        "revoked by the client",
                    ),
                )?;
            }
            Ok(())
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
