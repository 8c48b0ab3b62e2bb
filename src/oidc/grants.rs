//! The three grants: authorization code (with PKCE), refresh token (rotated, families revoked on
//! reuse) and client credentials. Each decides in one database transaction (a refresh on
//! PostgreSQL in one statement, `tokens::rotate_into`: see `db::conditional_writes`); a consumed
//! code or rotated token stays consumed even when the answer is `invalid_grant`.

use diesel::Connection;

use super::authorize::is_pkce_value;
use super::claims::{self, AccessGrant, SignIn};
use super::token::Issued;
use crate::audit::{Actor, event};
use crate::crypto::alg::SigningAlg;
use crate::crypto::random;
use crate::db::clients::Client;
use crate::db::roles::Membership;
use crate::db::tokens::RefreshToken;
use crate::db::users::User;
use crate::db::{self, Conn, DbError};
use crate::domain::params::Params;
use crate::domain::scope::{self, Scopes, USER_ONLY};
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;

/// A decision taken inside a transaction: the transaction commits either way.
type Decision<T> = Result<Result<T, OAuthError>, diesel::result::Error>;

/// What a user grant decided, ready to be signed.
struct UserGrant {
    user: User,
    scope: Scopes,
    access_scope: Scopes,
    nonce: Option<String>,
    sid: String,
    auth_time: i64,
    amr: String,
    jti: String,
    refresh_token: Option<String>,
    membership: Option<Membership>,
}

/// The person's roles and groups, when `scope` asks for them.
fn membership_for(
    conn: &mut Conn,
    user: &User,
    scope: &Scopes,
) -> Result<Option<Membership>, diesel::result::Error> {
    if scope.contains(scope::ROLES) {
        db::roles::of(conn, user).map(Some)
    } else {
        Ok(None)
    }
}

fn lifetimes(state: &AppState) -> (i64, i64, i64) {
    let c = &state.config;
    (
        c.access_token_ttl.as_secs() as i64,
        c.id_token_ttl.as_secs() as i64,
        c.refresh_token_ttl.as_secs() as i64,
    )
}

/// Revokes what a replayed code or reused refresh token had produced.
fn revoke_issued(
    conn: &mut Conn,
    access_jti: Option<&str>,
    family: Option<&str>,
    now: i64,
    access_ttl: i64,
) -> Result<(), diesel::result::Error> {
    if let Some(jti) = access_jti {
        db::tokens::revoke_access(conn, jti, now + access_ttl)?;
    }
    if let Some(family) = family {
        db::tokens::revoke_family(conn, family, now, now + access_ttl)?;
    }
    Ok(())
}

fn live_user(conn: &mut Conn, user_id: &str) -> Result<Option<User>, diesel::result::Error> {
    Ok(db::users::find(conn, user_id)?.filter(|u| !u.disabled))
}

pub async fn authorization_code(
    state: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    if !client.allows_grant("authorization_code") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        ));
    }
    let code = params
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let code_hash = random::hash(code);
    let redirect_uri = params.get("redirect_uri").map(str::to_string);
    let verifier = params.get("code_verifier").map(str::to_string);
    let client_id = client.id.clone();
    let alg = client.id_token_signed_response_alg;
    let client = client.clone();
    let (access_ttl, _, refresh_ttl) = lifetimes(state);
    let audit = state.audit.clone();
    let decided = state
        .db
        .run(move |conn| {
            db::write_transaction(conn, |conn| -> Decision<UserGrant> {
                let bad = |d: &str| Ok(Err(OAuthError::invalid_grant(d)));
                let Some(row) = db::codes::find(conn, &code_hash)? else {
                    return bad("the authorization code is invalid or expired");
                };
                if row.consumed_at.is_some() || !db::codes::consume(conn, &code_hash, now)? {
                    // A redemption that won a race committed before `consume` answered: read
                    // again to see what it issued.
                    let row = db::codes::find(conn, &code_hash)?.unwrap_or(row);
                    tracing::warn!(client_id = %row.client_id, user_id = %row.user_id,
                        "An authorization code was used twice; revoking the tokens issued from it.");
                    revoke_issued(conn, row.access_jti.as_deref(), row.refresh_family.as_deref(), now, access_ttl)?;
                    audit.record(conn, event(now, &Actor::Client(row.client_id.clone()), "code.replayed", &row.user_id, "tokens issued from the code revoked"))?;
                    return bad("the authorization code was already used");
                }
                if row.client_id != client.id {
                    return bad("the authorization code was issued to another client");
                }
                if row.expires_at <= now {
                    return bad("the authorization code is invalid or expired");
                }
                if redirect_uri.as_deref() != Some(row.redirect_uri.as_str()) {
                    return bad("redirect_uri does not match the authorization request");
                }
                match (&row.code_challenge, &verifier) {
                    (Some(challenge), Some(v)) => {
                        if !is_pkce_value(v) || !random::equal(&random::pkce_s256(v), challenge) {
                            return bad("code_verifier does not match the code_challenge");
                        }
                    }
                    (Some(_), None) => return bad("code_verifier is required"),
                    (None, Some(_)) => {
                        return bad("code_verifier was sent but the authorization request had no code_challenge");
                    }
                    (None, None) if client.is_public() => return bad("PKCE is required"),
                    (None, None) => {}
                }
                let Some(user) = live_user(conn, &row.user_id)? else {
                    return bad("the person is no longer allowed to sign in");
                };
                let scope = Scopes::parse(&row.scope).unwrap_or_default();
                let jti = random::id();
                let family = (client.allows_grant("refresh_token") && scope.contains("offline_access"))
                    .then(random::id);
                let refresh = match &family {
                    Some(family_id) => {
                        let token = random::token();
                        db::tokens::insert(conn, &RefreshToken {
                            token_hash: random::hash(&token),
                            family_id: family_id.clone(),
                            client_id: client.id.clone(),
                            user_id: user.id.clone(),
                            scope: row.scope.clone(),
                            sid: row.sid.clone(),
                            auth_time: row.auth_time,
                            amr: row.amr.clone(),
                            access_jti: jti.clone(),
                            created_at: now,
                            idle_expires_at: now + refresh_ttl,
                            family_expires_at: now + 3 * refresh_ttl,
                            rotated_at: None,
                            revoked_at: None,
                        })?;
                        Some(token)
                    }
                    None => None,
                };
                db::codes::record_issued(conn, &code_hash, &jti, family.as_deref())?;
                let membership = membership_for(conn, &user, &scope)?;
                Ok(Ok(UserGrant {
                    membership,
                    user,
                    access_scope: scope.clone(),
                    scope,
                    nonce: row.nonce,
                    sid: row.sid,
                    auth_time: row.auth_time,
                    amr: row.amr,
                    jti,
                    refresh_token: refresh,
                }))
            })
            .map_err(DbError::from)
        })
        .await
        .map_err(OAuthError::from)??;
    sign_user_grant(state, &client_id, alg, decided, now)
}

pub async fn refresh_token(
    state: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    if !client.allows_grant("refresh_token") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the refresh token grant",
        ));
    }
    let presented = params
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let requested = match params.get("scope") {
        Some(s) => Some(Scopes::parse(s).map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e))?),
        None => None,
    };
    let token_hash = random::hash(presented);
    let client_id = client.id.clone();
    let alg = client.id_token_signed_response_alg;
    let client = client.clone();
    let (access_ttl, _, refresh_ttl) = lifetimes(state);
    let audit = state.audit.clone();
    let decided = state
        .db
        .run(move |conn| {
            db::conditional_writes(conn, |conn| -> Decision<UserGrant> {
                let bad = |d: &str| Ok(Err(OAuthError::invalid_grant(d)));
                let Some((row, person)) = db::tokens::find_with_person(conn, &token_hash)? else {
                    return bad("the refresh token is invalid");
                };
                if row.client_id != client.id {
                    return bad("the refresh token was issued to another client");
                }
                if row.rotated_at.is_some() {
                    tracing::warn!(client_id = %row.client_id, user_id = %row.user_id,
                        "A rotated refresh token was used again; revoking its family.");
                    conn.transaction(|conn| {
                        revoke_issued(conn, None, Some(&row.family_id), now, access_ttl)?;
                        audit.record(
                            conn,
                            event(
                                now,
                                &Actor::Client(row.client_id.clone()),
                                "token.family_revoked",
                                &row.user_id,
                                &format!("refresh token reused; family {}", row.family_id),
                            ),
                        )
                    })?;
                    return bad("the refresh token was already used");
                }
                if !row.is_live(now) {
                    return bad("the refresh token is invalid, revoked or expired");
                }
                let granted = Scopes::parse(&row.scope).unwrap_or_default();
                let access_scope = match requested {
                    Some(r) if !r.is_subset_of(&granted) => {
                        return Ok(Err(OAuthError::new(
                            ErrorCode::InvalidScope,
                            "a refresh cannot widen the granted scope",
                        )));
                    }
                    Some(r) if !r.is_empty() => r,
                    _ => granted.clone(),
                };
                let Some(user) = person.filter(|p| !p.disabled) else {
                    return bad("the person is no longer allowed to sign in");
                };
                let jti = random::id();
                let token = random::token();
                let next = RefreshToken {
                    token_hash: random::hash(&token),
                    access_jti: jti.clone(),
                    created_at: now,
                    idle_expires_at: (now + refresh_ttl).min(row.family_expires_at),
                    rotated_at: None,
                    revoked_at: None,
                    ..row.clone()
                };
                if !db::tokens::rotate_into(conn, &token_hash, now, &next)? {
                    // Another request rotated it (or it was revoked) since it was read.
                    conn.transaction(|conn| {
                        revoke_issued(conn, None, Some(&row.family_id), now, access_ttl)
                    })?;
                    return bad("the refresh token was already used");
                }
                let membership = membership_for(conn, &user, &access_scope)?;
                Ok(Ok(UserGrant {
                    membership,
                    user,
                    scope: granted,
                    access_scope,
                    nonce: None,
                    sid: row.sid,
                    auth_time: row.auth_time,
                    amr: row.amr,
                    jti,
                    refresh_token: Some(token),
                }))
            })
            .map_err(DbError::from)
        })
        .await
        .map_err(OAuthError::from)??;
    sign_user_grant(state, &client_id, alg, decided, now)
}

/// Signs the access token and the ID token of a user grant.
fn sign_user_grant(
    state: &AppState,
    client_id: &str,
    alg: SigningAlg,
    grant: UserGrant,
    now: i64,
) -> Result<Issued, OAuthError> {
    let (access_ttl, id_ttl, _) = lifetimes(state);
    let keys = state.keys.get();
    let issuer = &state.config.issuer;
    // Only people who hold the admin role may be granted the admin API scope.
    let granted = if grant.user.is_admin {
        grant.access_scope.clone()
    } else {
        grant.access_scope.without(scope::ADMIN)
    };
    let access_scope = granted.to_string();
    let access = claims::access_token(
        &keys,
        issuer,
        &AccessGrant {
            sub: &grant.user.id,
            client_id,
            scope: &access_scope,
            jti: &grant.jti,
            auth_time: Some(grant.auth_time),
            membership: grant.membership.as_ref(),
            alg,
        },
        now,
        access_ttl,
    )
    .map_err(signing_failed)?;
    let id_token = if grant.scope.contains("openid") {
        let sign_in = SignIn {
            user: &grant.user,
            client_id,
            scope: &granted,
            nonce: grant.nonce.as_deref(),
            auth_time: grant.auth_time,
            sid: &grant.sid,
            amr: &grant.amr,
            membership: grant.membership.as_ref(),
            alg,
        };
        Some(
            claims::id_token(&keys, issuer, &sign_in, &access.token, now, id_ttl)
                .map_err(signing_failed)?,
        )
    } else {
        None
    };
    tracing::info!(client_id = %client_id, user_id = %grant.user.id, "Issued tokens.");
    Ok(Issued {
        access_token: access.token,
        expires_in: access_ttl,
        scope: access_scope,
        id_token,
        refresh_token: grant.refresh_token,
    })
}

fn signing_failed(e: String) -> OAuthError {
    tracing::error!(error = %e, "A token could not be signed.");
    OAuthError::new(ErrorCode::ServerError, "an internal error occurred")
}

pub fn client_credentials(
    state: &AppState,
    client: &Client,
    params: &Params,
    now: i64,
) -> Result<Issued, OAuthError> {
    if client.is_public() || !client.allows_grant("client_credentials") {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the client credentials grant",
        ));
    }
    let scope = Scopes::parse(params.get("scope").unwrap_or(""))
        .map_err(|e| OAuthError::new(ErrorCode::InvalidScope, e))?;
    if scope.iter().any(|s| USER_ONLY.contains(&s)) || !scope.all_in(&client.scopes) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "a requested scope is not allowed for this client without a person",
        ));
    }
    let (access_ttl, _, _) = lifetimes(state);
    let scope = scope.to_string();
    let jti = random::id();
    let access = claims::access_token(
        &state.keys.get(),
        &state.config.issuer,
        &AccessGrant {
            sub: &client.id,
            client_id: &client.id,
            scope: &scope,
            jti: &jti,
            auth_time: None,
            membership: None,
            alg: client.id_token_signed_response_alg,
        },
        now,
        access_ttl,
    )
    .map_err(signing_failed)?;
    tracing::info!(client_id = %client.id, "Issued a client credentials token.");
    Ok(Issued {
        access_token: access.token,
        expires_in: access_ttl,
        scope,
        id_token: None,
        refresh_token: None,
    })
}
