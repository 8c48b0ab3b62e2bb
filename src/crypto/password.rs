//! Password hashing with argon2id and OWASP parameters. The server calls these only on its
//! argon2 executor (`crate::hashing`); the CLI calls them directly.

use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

/// A hash of a password nobody knows, verified against when the username is unknown so that
/// both answers take the same time.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash(&crate::crypto::random::token()).ok());

/// Hashes `password` with a fresh salt into a PHC string.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(Argon2::default()
        .hash_password(password.as_bytes())?
        .to_string())
}

/// Checks `password` against a stored PHC string; a malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), stored)
        .is_ok()
}

/// Spends the time of one verification and answers `false`: for unknown users.
pub fn verify_dummy(password: &str) -> bool {
    if let Some(dummy) = DUMMY_HASH.as_deref() {
        let _ = verify(password, dummy);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
        assert!(!verify_dummy("anything"));
    }
}
