//! Random secrets (codes, tokens, session ids, client secrets) and the hashes they are stored as.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 256 random bits from the OS generator, base64url without padding (43 characters).
pub fn token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A random identifier that is not a secret (ids, `sid`, `jti`): 128 bits.
pub fn id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// SHA-256 of a secret, base64url: how codes, tokens, session ids and client secrets are stored.
/// These secrets carry 256 bits of entropy, so a fast hash is enough (no password hashing).
pub fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time comparison of two strings of the same kind (hashes, CSRF tokens).
pub fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The left half of the SHA-256 of `value`, base64url: OIDC's `at_hash` and PKCE's S256.
pub fn left_half_sha256(value: &str) -> String {
    let digest = Sha256::digest(value.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// PKCE S256 transform (RFC 7636 4.2): base64url(SHA-256(verifier)).
pub fn pkce_s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_long() {
        let a = token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, token());
    }

    #[test]
    fn pkce_s256_matches_rfc7636_appendix_b() {
        assert_eq!(
            pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn equal_compares_whole_strings() {
        assert!(equal("abc", "abc"));
        assert!(!equal("abc", "abd"));
        assert!(!equal("abc", "ab"));
    }
}
