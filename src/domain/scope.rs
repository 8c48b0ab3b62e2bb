//! OAuth scopes (RFC 6749 3.3): a set of scope tokens, kept in the order first sent.

use std::fmt;

/// Scopes this provider knows and may grant to people's sessions.
pub const SUPPORTED: &[&str] = &["openid", "profile", "email", "offline_access", ROLES];
/// Scopes that only make sense with a person signed in.
pub const USER_ONLY: &[&str] = &["openid", "profile", "email", "offline_access", ROLES];
/// Scopes a client may request when its registration names none.
pub const DEFAULT_CLIENT: &[&str] = &["openid", "profile", "email", "offline_access"];
/// Puts the person's `roles` and `groups` into tokens and userinfo.
pub const ROLES: &str = "roles";
/// Authorizes the admin API; granted to people only when they hold the admin role.
pub const ADMIN: &str = "tessera:admin";

/// A parsed, de-duplicated scope list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a space-separated list; refuses characters outside RFC 6749's scope-token set.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut out: Vec<String> = Vec::new();
        for token in raw.split(' ').filter(|t| !t.is_empty()) {
            let valid = token.len() <= 128
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err("scope contains an invalid scope token".into());
            }
            if !out.iter().any(|s| s == token) {
                out.push(token.to_string());
            }
        }
        Ok(Self(out))
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether every scope here is also in `other`.
    pub fn is_subset_of(&self, other: &Scopes) -> bool {
        self.0.iter().all(|s| other.contains(s))
    }

    /// These scopes followed by those of `other` not already here.
    pub fn union(&self, other: &Scopes) -> Scopes {
        let mut out = self.0.clone();
        for s in &other.0 {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
        Scopes(out)
    }

    /// Whether every scope here is among `allowed`.
    pub fn all_in(&self, allowed: &[String]) -> bool {
        self.0.iter().all(|s| allowed.iter().any(|a| a == s))
    }

    /// These scopes without `scope`.
    pub fn without(&self, scope: &str) -> Scopes {
        Scopes(self.0.iter().filter(|s| *s != scope).cloned().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dedups_and_keeps_order() {
        let s = Scopes::parse("openid  email openid profile").expect("parse");
        assert_eq!(s.to_string(), "openid email profile");
        assert!(s.contains("email"));
        assert!(!s.contains("offline_access"));
    }

    #[test]
    fn refuses_bad_characters() {
        assert!(Scopes::parse("openid \"x\"").is_err());
        assert!(Scopes::parse("open\\id").is_err());
    }

    #[test]
    fn union_keeps_both_once() {
        let a = Scopes::parse("openid email").expect("a");
        let b = Scopes::parse("openid profile").expect("b");
        assert_eq!(a.union(&b).to_string(), "openid email profile");
    }

    #[test]
    fn subset() {
        let a = Scopes::parse("openid").expect("a");
        let b = Scopes::parse("openid email").expect("b");
        assert!(a.is_subset_of(&b));
        assert!(!b.is_subset_of(&a));
    }
}
