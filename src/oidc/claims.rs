//! What goes into tokens: RFC 9068 access tokens, ID tokens, and the person's claims by scope.

use serde::{Deserialize, Serialize};

use crate::crypto::alg::SigningAlg;
use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP, TimeClaims};
use crate::crypto::keys::KeySet;
use crate::db::roles::Membership;
use crate::db::users::User;
use crate::domain::scope::Scopes;

/// The claims of an access token (RFC 9068 2.2).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    /// Left out when nothing was granted (client credentials without a scope).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scope: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// The person's roles, with the `roles` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// The person's groups, with the `roles` scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl TimeClaims for AccessClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
    fn nbf(&self) -> Option<i64> {
        self.nbf
    }
}

/// The claims of an ID token presented back to us (as `id_token_hint`).
#[derive(Debug, Clone, Deserialize)]
pub struct IdTokenClaims {
    pub sub: String,
    pub aud: serde_json::Value,
    pub exp: i64,
    #[serde(default)]
    pub sid: Option<String>,
}

impl TimeClaims for IdTokenClaims {
    fn exp(&self) -> i64 {
        self.exp
    }
    fn nbf(&self) -> Option<i64> {
        None
    }
}

impl IdTokenClaims {
    /// The client the token was issued to (`aud`, a string or a one-element list).
    pub fn client_id(&self) -> Option<&str> {
        match &self.aud {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Array(a) => a.first().and_then(|v| v.as_str()),
            _ => None,
        }
    }
}

/// A signed access token and the parts the caller needs to record.
pub struct AccessToken {
    pub token: String,
    pub jti: String,
    pub exp: i64,
}

/// What an access token is issued for.
pub struct AccessGrant<'a> {
    /// A user id, or the client id for client credentials.
    pub sub: &'a str,
    pub client_id: &'a str,
    pub scope: &'a str,
    pub jti: &'a str,
    pub auth_time: Option<i64>,
    /// Roles and groups, when the `roles` scope was granted.
    pub membership: Option<&'a Membership>,
    /// The client's `id_token_signed_response_alg`.
    pub alg: SigningAlg,
}

/// Signs an access token.
pub fn access_token(
    keys: &KeySet,
    issuer: &str,
    grant: &AccessGrant<'_>,
    now: i64,
    ttl: i64,
) -> Result<AccessToken, String> {
    let claims = AccessClaims {
        iss: issuer.to_string(),
        sub: grant.sub.to_string(),
        aud: grant.client_id.to_string(),
        client_id: grant.client_id.to_string(),
        scope: grant.scope.to_string(),
        jti: grant.jti.to_string(),
        iat: now,
        exp: now + ttl,
        auth_time: grant.auth_time,
        nbf: None,
        roles: grant.membership.map(|m| m.roles.clone()),
        groups: grant.membership.map(|m| m.groups.clone()),
    };
    let token = jwt::sign(keys, grant.alg, ACCESS_TOKEN_TYP, &claims)?;
    Ok(AccessToken {
        token,
        jti: claims.jti,
        exp: claims.exp,
    })
}

/// What an ID token says about the sign-in it came from.
pub struct SignIn<'a> {
    pub user: &'a User,
    pub client_id: &'a str,
    pub scope: &'a Scopes,
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub sid: &'a str,
    pub amr: &'a str,
    pub membership: Option<&'a Membership>,
    /// The client's `id_token_signed_response_alg`.
    pub alg: SigningAlg,
}

/// Signs an ID token bound to `access_token` by `at_hash`.
pub fn id_token(
    keys: &KeySet,
    issuer: &str,
    sign_in: &SignIn<'_>,
    access_token: &str,
    now: i64,
    ttl: i64,
) -> Result<String, String> {
    let mut claims = serde_json::json!({
        "iss": issuer,
        "sub": sign_in.user.id,
        "aud": sign_in.client_id,
        "azp": sign_in.client_id,
        "exp": now + ttl,
        "iat": now,
        "auth_time": sign_in.auth_time,
        "at_hash": sign_in.alg.token_hash(access_token),
        "sid": sign_in.sid,
        "amr": sign_in.amr.split_whitespace().collect::<Vec<_>>(),
        "acr": acr(sign_in.amr),
    });
    if let Some(nonce) = sign_in.nonce {
        claims["nonce"] = nonce.into();
    }
    add_user_claims(&mut claims, sign_in.user, sign_in.scope);
    if let Some(m) = sign_in.membership {
        add_membership_claims(&mut claims, m);
    }
    jwt::sign(keys, sign_in.alg, "JWT", &claims)
}

/// `acr` of a sign-in: "1" for a password alone, "2" when a second factor was also used.
pub fn acr(amr: &str) -> &'static str {
    if amr.split_whitespace().any(|m| m == "otp") {
        "2"
    } else {
        "1"
    }
}

/// Adds the profile and email claims the scopes allow.
pub fn add_user_claims(claims: &mut serde_json::Value, user: &User, scope: &Scopes) {
    if scope.contains("profile") {
        claims["preferred_username"] = user.username.clone().into();
        if let Some(name) = &user.name {
            claims["name"] = name.clone().into();
        }
    }
    if scope.contains("email") {
        claims["email"] = user.email.clone().into();
        claims["email_verified"] = user.email_verified.into();
    }
}

/// Adds `roles` and `groups` (granted with the `roles` scope).
pub fn add_membership_claims(claims: &mut serde_json::Value, membership: &Membership) {
    claims["roles"] = membership.roles.clone().into();
    claims["groups"] = membership.groups.clone().into();
}
