//! The userinfo endpoint (OIDC Core 5.3) and the access-token check it shares with
//! introspection: signed by one of our keys with its algorithm, `typ: at+jwt`, our issuer,
//! unexpired, not revoked.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::claims::{AccessClaims, add_membership_claims, add_user_claims};
use crate::clock;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP};
use crate::db::{self, DbError};
use crate::domain::scope::Scopes;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY: i64 = 5;

/// Checks an access token's signature, type, issuer and lifetime, without the database: the
/// caller must still check that it was not revoked. `None`: not a valid token.
pub fn verify_access_signature(state: &AppState, token: &str, now: i64) -> Option<AccessClaims> {
    let keys = state.keys.get();
    jwt::verify::<AccessClaims>(
        &keys,
        token,
        ACCESS_TOKEN_TYP,
        &state.config.issuer,
        Some(now),
        LEEWAY,
    )
    .ok()
}

/// Verifies an access token and checks it was not revoked. `Ok(None)`: not a valid token.
pub async fn verify_access_token(
    state: &AppState,
    token: &str,
    now: i64,
) -> Result<Option<AccessClaims>, DbError> {
    let Some(claims) = verify_access_signature(state, token, now) else {
        return Ok(None);
    };
    let jti = claims.jti.clone();
    let revoked = state
        .db
        .run(move |conn| db::tokens::is_access_revoked(conn, &jti).map_err(DbError::from))
        .await?;
    Ok((!revoked).then_some(claims))
}

/// The 401 for a request that carries no token at all (RFC 6750 3.1: no error code).
fn no_token() -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::WWW_AUTHENTICATE, "Bearer realm=\"tessera\""))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "error": "invalid_request",
            "error_description": "an access token is required",
        }))
}

/// The bearer token from the Authorization header (RFC 6750 2.1), if any.
pub fn header_token(req: &HttpRequest) -> Result<Option<String>, OAuthError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| OAuthError::invalid_token())?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim().to_string()))
        }
        _ => Err(OAuthError::invalid_token()),
    }
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, OAuthError> {
    match header_token(&req)? {
        Some(token) => respond(&state, &token).await,
        None => Ok(no_token()),
    }
}

/// POST accepts the header, or `access_token` in a form body (RFC 6750 2.2), not both.
pub async fn post(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> Result<HttpResponse, OAuthError> {
    let from_header = header_token(&req)?;
    // A body that is not a well-formed form (wrong type, repeated or overlong parameters) is
    // refused rather than read as "no token" (RFC 6750 2.2, RFC 6749 3.1).
    let from_body = if body.is_empty() {
        None
    } else {
        super::token::form_params(&req, &body)?
            .get("access_token")
            .map(str::to_string)
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the access token once")),
        (Some(token), None) | (None, Some(token)) => respond(&state, &token).await,
        (None, None) => Ok(no_token()),
    }
}

async fn respond(state: &AppState, token: &str) -> Result<HttpResponse, OAuthError> {
    let now = clock::now();
    let claims =
        verify_access_signature(state, token, now).ok_or_else(OAuthError::invalid_token)?;
    let scope = Scopes::parse(&claims.scope).unwrap_or_default();
    // One database call: the revocation check with the person in one query, and (for the
    // roles scope) their roles and groups.
    let (jti, sub) = (claims.jti.clone(), claims.sub.clone());
    let person_token = claims.auth_time.is_some() && scope.contains("openid");
    let with_roles = scope.contains(crate::domain::scope::ROLES);
    let (revoked, person) = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            if !person_token {
                return Ok((db::tokens::is_access_revoked(conn, &jti)?, None));
            }
            // No such person, or a disabled one: the token is refused as if revoked.
            let Some((user, revoked)) = db::users::find_with_revocation(conn, &sub, &jti)? else {
                return Ok((false, None));
            };
            if revoked {
                return Ok((true, None));
            }
            if user.disabled {
                return Ok((false, None));
            }
            let membership = if with_roles {
                Some(db::roles::of(conn, &user)?)
            } else {
                None
            };
            Ok((false, Some((user, membership))))
        })
        .await?;
    if revoked {
        return Err(OAuthError::invalid_token());
    }
    // Tokens issued to a client on its own behalf (client credentials) name no person.
    if claims.auth_time.is_none() {
        return Err(OAuthError::new(
            ErrorCode::InvalidToken,
            "the access token was not issued for a person",
        ));
    }
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token does not carry the openid scope",
        ));
    }
    let (user, membership) = person.ok_or_else(OAuthError::invalid_token)?;
    let mut body = serde_json::json!({ "sub": user.id });
    add_user_claims(&mut body, &user, &scope);
    if let Some(m) = &membership {
        add_membership_claims(&mut body, m);
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body))
}
