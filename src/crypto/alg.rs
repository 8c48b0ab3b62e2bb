//! The JWS algorithms Tessera signs with: RS256 (the default), ES256 (P-256) and EdDSA
//! (Ed25519). A client chooses one for its tokens; every signing key has exactly one.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use sha2::{Digest, Sha512};

/// A signing algorithm, and so a key type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum SigningAlg {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    /// Every algorithm, the default first (as discovery lists them).
    pub const ALL: [SigningAlg; 3] = [SigningAlg::RS256, SigningAlg::ES256, SigningAlg::EdDSA];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    /// Parses a JWS `alg` name (exact spelling); the error names the accepted values.
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown signing algorithm `{}` (expected one of {})",
                    name.chars().take(40).collect::<String>(),
                    Self::names().join(", ")
                )
            })
    }

    /// The accepted names, the default first.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|a| a.as_str()).collect()
    }

    /// The `at_hash` of `value` (OIDC Core 3.1.3.6): base64url of the left half of its hash
    /// with the algorithm's hash function, SHA-256, or SHA-512 for EdDSA with Ed25519.
    pub fn token_hash(self, value: &str) -> String {
        match self {
            Self::RS256 | Self::ES256 => super::random::left_half_sha256(value),
            Self::EdDSA => {
                let digest = Sha512::digest(value.as_bytes());
                URL_SAFE_NO_PAD.encode(&digest[..32])
            }
        }
    }

    /// The jsonwebtoken algorithm.
    pub fn jwt(self) -> Algorithm {
        match self {
            Self::RS256 => Algorithm::RS256,
            Self::ES256 => Algorithm::ES256,
            Self::EdDSA => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SigningAlg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_others_are_refused() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Ok(alg));
        }
        for bad in ["rs256", "HS256", "none", "ES384", "", "EDDSA"] {
            let err = SigningAlg::parse(bad).expect_err(bad);
            assert!(err.contains("RS256, ES256, EdDSA"), "{err}");
        }
        assert_eq!(SigningAlg::default(), SigningAlg::RS256);
    }

    #[test]
    fn at_hash_uses_sha512_for_eddsa_only() {
        // OIDC Core A.3's example access token and its RS256 at_hash.
        let token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            SigningAlg::RS256.token_hash(token),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        assert_eq!(
            SigningAlg::ES256.token_hash(token),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
        let ed = SigningAlg::EdDSA.token_hash(token);
        let digest = Sha512::digest(token.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&ed).expect("b64"),
            digest[..32].to_vec()
        );
    }
}
