//! Why a request to a protected route is refused, and the HTTP answer for it (RFC 6750 3),
//! independent of the web framework.

use crate::claims::AccessClaims;
use crate::error::VerifyError;

/// What a protected route requires of a verified access token beyond its validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    Scope(String),
    Role(String),
    Group(String),
}

impl Requirement {
    /// Whether `claims` meet the requirement; the refusal otherwise.
    pub fn check(&self, claims: &AccessClaims, realm: &str) -> Result<(), Rejection> {
        let met = match self {
            Self::Scope(s) => claims.has_scope(s),
            Self::Role(r) => claims.has_role(r),
            Self::Group(g) => claims.in_group(g),
        };
        if met {
            Ok(())
        } else {
            Err(Rejection::new(realm, Reason::Insufficient(self.clone())))
        }
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No `Authorization: Bearer` header at all.
    Missing,
    /// The header is not a single well-formed bearer token.
    BadHeader,
    /// The token was refused, or the provider's keys could not be had.
    Token(VerifyError),
    /// The token is valid but lacks a scope, role or group the route requires.
    Insufficient(Requirement),
    /// The application registered no `Verifier` (a programming error, logged).
    NotConfigured,
}

/// A refusal: an HTTP status, its `WWW-Authenticate` challenge and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub realm: String,
    pub reason: Reason,
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.description())
    }
}

impl Rejection {
    pub fn new(realm: &str, reason: Reason) -> Self {
        Self {
            realm: realm.to_string(),
            reason,
        }
    }

    pub fn status(&self) -> u16 {
        match &self.reason {
            Reason::Missing | Reason::BadHeader => 401,
            Reason::Token(e) if e.is_invalid_token() => 401,
            Reason::Token(_) => 503,
            Reason::Insufficient(_) => 403,
            Reason::NotConfigured => 500,
        }
    }

    /// The RFC 6750 error code; none when no token was sent (RFC 6750 3.1).
    pub fn error_code(&self) -> Option<&'static str> {
        match &self.reason {
            Reason::Missing | Reason::NotConfigured => None,
            Reason::BadHeader => Some("invalid_token"),
            Reason::Token(e) if e.is_invalid_token() => Some("invalid_token"),
            Reason::Token(_) => Some("temporarily_unavailable"),
            Reason::Insufficient(_) => Some("insufficient_scope"),
        }
    }

    pub fn description(&self) -> String {
        match &self.reason {
            Reason::Missing => "a bearer access token is required".into(),
            Reason::BadHeader => "the Authorization header is not one bearer token".into(),
            Reason::Token(e) => e.to_string(),
            Reason::Insufficient(Requirement::Scope(s)) => format!("the scope `{s}` is required"),
            Reason::Insufficient(Requirement::Role(r)) => format!("the role `{r}` is required"),
            Reason::Insufficient(Requirement::Group(g)) => {
                format!("membership of the group `{g}` is required")
            }
            Reason::NotConfigured => "the server cannot verify tokens".into(),
        }
    }

    /// The `WWW-Authenticate` value, for 401 and 403 answers.
    pub fn www_authenticate(&self) -> Option<String> {
        let status = self.status();
        if status != 401 && status != 403 {
            return None;
        }
        let mut out = format!("Bearer realm=\"{}\"", quotable(&self.realm));
        if let Some(code) = self.error_code() {
            out.push_str(&format!(
                ", error=\"{code}\", error_description=\"{}\"",
                quotable(&self.description())
            ));
        }
        if let Reason::Insufficient(Requirement::Scope(s)) = &self.reason {
            out.push_str(&format!(", scope=\"{}\"", quotable(s)));
        }
        Some(out)
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let mut body = serde_json::Map::new();
        if let Some(code) = self.error_code() {
            body.insert("error".into(), code.into());
        }
        body.insert("error_description".into(), self.description().into());
        serde_json::Value::Object(body).to_string()
    }
}

/// `s` with the characters a quoted-string cannot carry as they are (`"`, `\`, controls)
/// left out: realms, scopes and role names never need them.
fn quotable(s: &str) -> String {
    s.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// The token of an `Authorization` header value of the form `Bearer <token>` (RFC 6750 2.1;
/// the scheme is case-insensitive). `Ok(None)` for another scheme, an error for a malformed
/// bearer credential.
pub fn bearer_token(header: &str) -> Result<Option<&str>, Reason> {
    let Some((scheme, rest)) = header.split_once(' ') else {
        return if header.eq_ignore_ascii_case("bearer") {
            Err(Reason::BadHeader)
        } else {
            Ok(None)
        };
    };
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim_matches(' ');
    // b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    let valid = !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b));
    if valid {
        Ok(Some(token))
    } else {
        Err(Reason::BadHeader)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_parsing() {
        assert_eq!(
            bearer_token("Bearer abc.def-ghi_"),
            Ok(Some("abc.def-ghi_"))
        );
        assert_eq!(bearer_token("bearer  abc=="), Ok(Some("abc==")));
        assert_eq!(bearer_token("Basic dXNlcjpwYXNz"), Ok(None));
        assert_eq!(bearer_token("Bearer"), Err(Reason::BadHeader));
        assert_eq!(bearer_token("Bearer "), Err(Reason::BadHeader));
        assert_eq!(bearer_token("Bearer a b"), Err(Reason::BadHeader));
        assert_eq!(bearer_token("Bearer a\"b"), Err(Reason::BadHeader));
        assert_eq!(bearer_token("Bearer ==="), Err(Reason::BadHeader));
    }

    #[test]
    fn challenges_follow_rfc_6750() {
        let missing = Rejection::new("orders", Reason::Missing);
        assert_eq!(missing.status(), 401);
        assert_eq!(
            missing.www_authenticate().as_deref(),
            Some("Bearer realm=\"orders\"")
        );
        let expired = Rejection::new("orders", Reason::Token(VerifyError::Expired));
        assert_eq!(expired.status(), 401);
        assert_eq!(
            expired.www_authenticate().as_deref(),
            Some(
                "Bearer realm=\"orders\", error=\"invalid_token\", \
                 error_description=\"the token has expired\""
            )
        );
        let scope = Rejection::new(
            "or\"ders",
            Reason::Insufficient(Requirement::Scope("orders:write".into())),
        );
        assert_eq!(scope.status(), 403);
        let challenge = scope.www_authenticate().unwrap_or_default();
        assert!(challenge.starts_with("Bearer realm=\"orders\", error=\"insufficient_scope\""));
        assert!(challenge.ends_with(", scope=\"orders:write\""));
        let body: serde_json::Value = serde_json::from_str(&scope.body()).unwrap_or_default();
        assert_eq!(body["error"], "insufficient_scope");
    }

    #[test]
    fn unavailable_keys_are_503_without_a_challenge() {
        let down = Rejection::new(
            "r",
            Reason::Token(VerifyError::KeysUnavailable(crate::KeySetError::Status {
                url: "http://internal:8080/jwks".into(),
                status: 502,
            })),
        );
        assert_eq!(down.status(), 503);
        assert_eq!(down.www_authenticate(), None);
        assert!(!down.body().contains("internal"), "{}", down.body());
    }
}
