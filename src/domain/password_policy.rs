//! The password policy every new password meets (registration, `/account`, the CLI): at least
//! 12 characters, not the username or email address, and not one of the 30,000 most common
//! passwords (the `passwords` list of the zxcvbn 4.5.0 package, MIT licence, shipped in
//! `assets/common-passwords.txt`).

use std::collections::HashSet;
use std::sync::LazyLock;

/// Shortest password accepted.
pub const MIN_CHARS: usize = 12;
/// Longest password accepted (argon2 hashes any length, but bodies are bounded).
pub const MAX_BYTES: usize = 1024;

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("../../assets/common-passwords.txt")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// Why a password was refused; `Display` is the message shown to the person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("The password must be at least 12 characters long.")]
    TooShort,
    #[error("The password must be at most 1024 bytes long.")]
    TooLong,
    #[error("The password must not be the same as the username.")]
    SameAsUsername,
    #[error("The password must not be the same as the email address.")]
    SameAsEmail,
    #[error("This password is one of the most commonly used passwords. Choose another.")]
    Common,
}

/// Checks `password` for a person with this username and email address.
pub fn check(password: &str, username: &str, email: &str) -> Result<(), PolicyError> {
    if password.chars().count() < MIN_CHARS {
        return Err(PolicyError::TooShort);
    }
    if password.len() > MAX_BYTES {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    if lower == username.trim().to_lowercase() {
        return Err(PolicyError::SameAsUsername);
    }
    if lower == email.trim().to_lowercase() {
        return Err(PolicyError::SameAsEmail);
    }
    let squeezed: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
    if COMMON.contains(lower.as_str()) || COMMON.contains(squeezed.as_str()) {
        return Err(PolicyError::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_has_its_error() {
        let ok = "a sufficiently long passphrase";
        assert_eq!(check(ok, "alice", "alice@example.com"), Ok(()));
        assert_eq!(check("short", "a", "a@b.c"), Err(PolicyError::TooShort));
        assert_eq!(
            check(&"x".repeat(1025), "a", "a@b.c"),
            Err(PolicyError::TooLong)
        );
        assert_eq!(
            check("Alice.Example1", "alice.example1", "a@b.c"),
            Err(PolicyError::SameAsUsername)
        );
        assert_eq!(
            check("alice@example.com", "alice", "Alice@Example.com"),
            Err(PolicyError::SameAsEmail)
        );
        assert_eq!(
            check("qwerty123456", "alice", "a@b.c"),
            Err(PolicyError::Common)
        );
        assert_eq!(
            check("QWERTY 123456", "alice", "a@b.c"),
            Err(PolicyError::Common)
        );
    }

    #[test]
    fn the_list_is_shipped() {
        assert!(COMMON.len() > 20_000);
        assert!(COMMON.contains("password"));
    }
}
