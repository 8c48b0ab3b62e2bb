//! Typed claims of Tessera's access tokens (RFC 9068) and ID tokens (OIDC Core 2), with
//! helpers for scopes, roles and groups.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `aud` claim: one string or an array of strings (RFC 7519 4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    /// Every audience named.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice: &[String] = match self {
            Self::One(a) => std::slice::from_ref(a),
            Self::Many(list) => list,
        };
        slice.iter().map(String::as_str)
    }

    pub fn contains(&self, audience: &str) -> bool {
        self.iter().any(|a| a == audience)
    }

    pub fn len(&self) -> usize {
        self.iter().count()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The claims of a Tessera access token (RFC 9068 2.2). Claims not named here are kept in
/// `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    /// The person, or the client itself for a client credentials token.
    pub sub: String,
    pub aud: Audience,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    pub jti: String,
    /// Space-separated scopes (RFC 8693 4.2); absent when none was granted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Roles of the subject, present when the `roles` scope was granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Groups of the subject, present when the `roles` scope was granted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl AccessClaims {
    /// The granted scopes, in the order the token lists them.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope
            .as_deref()
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
    }

    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes().any(|s| s == scope)
    }

    /// Whether every one of `scopes` was granted.
    pub fn has_scopes(&self, scopes: &[&str]) -> bool {
        scopes.iter().all(|s| self.has_scope(s))
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }

    /// Whether the token was issued to a client for itself (client credentials): its subject
    /// is the client, not a person.
    pub fn is_client_token(&self) -> bool {
        self.sub == self.client_id
    }
}

/// The claims of a Tessera ID token. Profile and email claims are there when the granted
/// scopes allow them; claims not named here are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: Audience,
    pub exp: i64,
    pub iat: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub amr: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn access(extra: Value) -> Result<AccessClaims, serde_json::Error> {
        let mut v = json!({
            "iss": "https://id.example", "sub": "alice-id", "aud": "api", "client_id": "web",
            "exp": 2000, "iat": 1000, "jti": "j1",
        });
        for (k, val) in extra.as_object().into_iter().flatten() {
            v[k] = val.clone();
        }
        serde_json::from_value(v)
    }

    #[test]
    fn scope_helpers_split_on_spaces() {
        let c = access(json!({"scope": "orders:read  openid"})).expect("claims");
        assert_eq!(c.scopes().collect::<Vec<_>>(), ["orders:read", "openid"]);
        assert!(c.has_scope("openid"));
        assert!(!c.has_scope("orders"));
        assert!(c.has_scopes(&["openid", "orders:read"]));
        assert!(!c.has_scopes(&["openid", "orders:write"]));
    }

    #[test]
    fn no_scope_claim_means_no_scope() {
        let c = access(json!({})).expect("claims");
        assert_eq!(c.scopes().count(), 0);
        assert!(!c.has_scope(""));
    }

    #[test]
    fn roles_groups_and_extra_claims() {
        let c =
            access(json!({"roles": ["admin"], "groups": ["ops"], "tenant": "t1"})).expect("claims");
        assert!(c.has_role("admin") && !c.has_role("ops"));
        assert!(c.in_group("ops") && !c.in_group("admin"));
        assert_eq!(c.extra["tenant"], "t1");
        assert!(!c.is_client_token());
    }

    #[test]
    fn audience_one_or_many() {
        let one = access(json!({"aud": "api"})).expect("claims");
        assert!(one.aud.contains("api") && one.aud.len() == 1);
        let many = access(json!({"aud": ["a", "b"]})).expect("claims");
        assert!(many.aud.contains("b") && !many.aud.contains("api"));
        assert!(access(json!({"aud": 3})).is_err());
    }

    #[test]
    fn wrong_claim_types_are_errors_not_panics() {
        assert!(access(json!({"exp": "soon"})).is_err());
        assert!(access(json!({"roles": "admin"})).is_err());
        assert!(access(json!({"sub": null})).is_err());
    }
}
