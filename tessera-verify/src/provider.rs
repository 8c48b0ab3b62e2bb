//! Signature verification with each provider key parsed once.
//!
//! jsonwebtoken's aws-lc backend rebuilds the public key for every verification (for an RSA
//! key from a JWK it builds the RSA key from n and e each time, which costs more than the
//! verification itself). [`install`], called when a [`crate::Verifier`] is built, makes
//! jsonwebtoken's process-wide crypto provider keep an aws-lc-rs `ParsedPublicKey` per key for
//! RS256, ES256 and EdDSA. If the application installed a provider of its own first, that one
//! stays and verification is just slower.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, RwLock};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtVerifier};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

/// Parsed public keys by algorithm and key bytes (`n || e` for RSA components).
type Cache = HashMap<(u8, Vec<u8>), Arc<ParsedPublicKey>>;

static PARSED: LazyLock<RwLock<Cache>> = LazyLock::new(|| RwLock::new(HashMap::new()));

/// At most this many parsed keys are kept (a JWKS holds a handful; the cache restarts empty
/// when a provider has rotated through this many).
const MAX_CACHED: usize = 256;

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    verifier_factory: new_verifier,
    ..DEFAULT_PROVIDER.clone()
});

/// Installs the caching provider for the process, once.
pub(crate) fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::debug!(
                "A JWT crypto provider was already installed; keys are parsed per call."
            );
        }
    });
}

fn new_verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
    let (family, tag, params): (_, u8, &'static dyn VerificationAlgorithm) = match algorithm {
        Algorithm::RS256 => (AlgorithmFamily::Rsa, 0, &RSA_PKCS1_2048_8192_SHA256),
        Algorithm::ES256 => (AlgorithmFamily::Ec, 1, &ECDSA_P256_SHA256_FIXED),
        Algorithm::EdDSA => (AlgorithmFamily::Ed, 2, &ED25519),
        _ => return (DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
    };
    if key.family() != family {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let id = match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => (tag, bytes.clone()),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            let mut v = Vec::with_capacity(n.len() + e.len() + 8);
            v.extend_from_slice(&(n.len() as u64).to_be_bytes());
            v.extend_from_slice(n);
            v.extend_from_slice(e);
            (tag, v)
        }
    };
    let cached = match PARSED.read() {
        Ok(map) => map.get(&id).cloned(),
        Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
    };
    let parsed = match cached {
        Some(parsed) => parsed,
        None => {
            let parsed = match key.kind() {
                DecodingKeyKind::SecretOrDer(bytes) => {
                    UnparsedPublicKey::new(params, bytes).parse()
                }
                DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256),
            }
            .map_err(|_| Error::from(ErrorKind::InvalidKeyFormat))?;
            let parsed = Arc::new(parsed);
            let mut map = match PARSED.write() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            if map.len() >= MAX_CACHED {
                map.clear();
            }
            map.insert(id, parsed.clone());
            parsed
        }
    };
    Ok(Box::new(Cached {
        algorithm: *algorithm,
        key: parsed,
    }))
}

struct Cached {
    algorithm: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl Verifier<Vec<u8>> for Cached {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        self.key
            .verify_sig(msg, signature)
            .map_err(signature::Error::from_source)
    }
}

impl JwtVerifier for Cached {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
    use jsonwebtoken::EncodingKey;
    use jsonwebtoken::jwk::Jwk;

    use super::*;

    fn pair(alg: Algorithm) -> (EncodingKey, DecodingKey) {
        let enc = match alg {
            Algorithm::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).expect("gen");
                EncodingKey::from_ec_der(pair.to_pkcs8v1().expect("der").as_ref())
            }
            _ => {
                let pair = Ed25519KeyPair::generate().expect("gen");
                EncodingKey::from_ed_der(pair.to_pkcs8v1().expect("der").as_ref())
            }
        };
        let jwk = Jwk::from_encoding_key(&enc, alg).expect("jwk");
        let dec = DecodingKey::from_jwk(&jwk).expect("decoding key");
        (enc, dec)
    }

    #[test]
    fn cached_keys_verify_their_own_signatures_only() {
        for alg in [Algorithm::ES256, Algorithm::EdDSA] {
            let (enc, dec) = pair(alg);
            let sig = jsonwebtoken::crypto::sign(b"msg", &enc, alg).expect("sign");
            let raw = base64_decode(&sig);
            for _ in 0..2 {
                let v = new_verifier(&alg, &dec).expect("verifier");
                assert!(v.verify(b"msg", &raw).is_ok(), "{alg:?}");
                assert!(v.verify(b"msh", &raw).is_err(), "{alg:?}");
            }
            let (_, other) = pair(alg);
            let v = new_verifier(&alg, &other).expect("verifier");
            assert!(v.verify(b"msg", &raw).is_err(), "{alg:?}: another key");
        }
        let (_, ec) = pair(Algorithm::ES256);
        assert!(
            new_verifier(&Algorithm::EdDSA, &ec).is_err(),
            "EC key for EdDSA"
        );
        assert!(
            new_verifier(&Algorithm::RS256, &ec).is_err(),
            "EC key for RS256"
        );
    }

    fn base64_decode(s: &str) -> Vec<u8> {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s)
            .expect("base64url")
    }
}
