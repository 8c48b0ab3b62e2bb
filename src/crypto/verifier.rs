//! JWT signature verification with each public key parsed once.
//!
//! jsonwebtoken's aws-lc backend rebuilds the public key for every verification (for an RSA
//! key given as n/e it builds the RSA key and its Montgomery context each time, which costs
//! more than the verification itself). This factory, installed with the signer in
//! [`super::signer::install`], keeps an aws-lc-rs `ParsedPublicKey` per key. The algorithm is
//! the one jsonwebtoken already matched against the caller's `Validation`, and the key must be
//! of that algorithm's family: an RSA key never verifies an ES256 signature, nor an EC key
//! an HMAC one.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey, VerificationAlgorithm,
};
use jsonwebtoken::crypto::JwtVerifier;
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Verifier};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

/// A parsed public key, with the RSA exponent it was parsed with (empty for EC and OKP keys).
struct Entry {
    exponent: Vec<u8>,
    key: Arc<ParsedPublicKey>,
}

/// Parsed public keys of RS256, ES256 and EdDSA, each by its key bytes (the RSA modulus, the EC
/// point, the Ed25519 key): looked up without hashing or copying the key on every call.
type Cache = RwLock<HashMap<Vec<u8>, Entry>>;

static PARSED: LazyLock<[Cache; 3]> =
    LazyLock::new(|| std::array::from_fn(|_| RwLock::new(HashMap::new())));

/// At most this many parsed public keys of one algorithm are kept (a JWKS holds a handful).
const MAX_CACHED: usize = 256;

/// The `verifier_factory` of the provider: RS256, ES256 and EdDSA with a cached parsed key;
/// any other algorithm goes to jsonwebtoken's own verifier.
pub fn new_verifier(
    algorithm: &Algorithm,
    key: &DecodingKey,
) -> Result<Box<dyn JwtVerifier>, Error> {
    let (family, slot) = match algorithm {
        Algorithm::RS256 => (AlgorithmFamily::Rsa, 0),
        Algorithm::ES256 => (AlgorithmFamily::Ec, 1),
        Algorithm::EdDSA => (AlgorithmFamily::Ed, 2),
        _ => return (DEFAULT_PROVIDER.verifier_factory)(algorithm, key),
    };
    if key.family() != family {
        return Err(ErrorKind::InvalidKeyFormat.into());
    }
    let (bytes, exponent): (&[u8], &[u8]) = match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => (bytes, &[]),
        DecodingKeyKind::RsaModulusExponent { n, e } => (n, e),
    };
    let cache = &PARSED[slot];
    let cached = {
        let map = match cache.read() {
            Ok(map) => map,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.get(bytes)
            .filter(|entry| entry.exponent == exponent)
            .map(|entry| entry.key.clone())
    };
    let key = match cached {
        Some(key) => key,
        None => {
            let parsed = Arc::new(parse(algorithm, key)?);
            let mut map = match cache.write() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            if map.len() >= MAX_CACHED {
                map.clear();
            }
            let entry = Entry {
                exponent: exponent.to_vec(),
                key: parsed.clone(),
            };
            map.insert(bytes.to_vec(), entry);
            parsed
        }
    };
    Ok(Box::new(CachedVerifier {
        algorithm: *algorithm,
        key,
    }))
}

fn parse(algorithm: &Algorithm, key: &DecodingKey) -> Result<ParsedPublicKey, Error> {
    let invalid = || -> Error {
        match algorithm {
            Algorithm::ES256 => ErrorKind::InvalidEcdsaKey.into(),
            Algorithm::EdDSA => ErrorKind::InvalidEddsaKey.into(),
            _ => ErrorKind::InvalidRsaKey("cannot parse the RSA public key".into()).into(),
        }
    };
    let params: &'static dyn VerificationAlgorithm = match algorithm {
        Algorithm::ES256 => &ECDSA_P256_SHA256_FIXED,
        Algorithm::EdDSA => &ED25519,
        _ => &RSA_PKCS1_2048_8192_SHA256,
    };
    match key.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => UnparsedPublicKey::new(params, bytes)
            .parse()
            .map_err(|_| invalid()),
        DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
            .to_parsed_public_key(&RSA_PKCS1_2048_8192_SHA256)
            .map_err(|_| invalid()),
    }
}

struct CachedVerifier {
    algorithm: Algorithm,
    key: Arc<ParsedPublicKey>,
}

impl Verifier<Vec<u8>> for CachedVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), signature::Error> {
        self.key
            .verify_sig(msg, signature)
            .map_err(signature::Error::from_source)
    }
}

impl JwtVerifier for CachedVerifier {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use jsonwebtoken::crypto::sign;

    use super::*;
    use crate::crypto::alg::SigningAlg;
    use crate::crypto::jwt::{self, ACCESS_TOKEN_TYP};

    #[test]
    fn cached_verifier_accepts_good_signatures_and_refuses_others() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = jwt::tests::key_set(dir.path());
        for alg in SigningAlg::ALL {
            let key = keys.signer(alg).expect("signer");
            let sig = sign(b"message", &key.encoding, alg.jwt()).expect("sign");
            let raw =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &sig)
                    .expect("b64");
            let verifier = new_verifier(&alg.jwt(), &key.decoding).expect("verifier");
            assert_eq!(verifier.algorithm(), alg.jwt());
            assert!(verifier.verify(b"message", &raw).is_ok(), "{alg}");
            assert!(verifier.verify(b"massage", &raw).is_err(), "{alg}");
            // Cached: the second verifier of the same key answers the same.
            let again = new_verifier(&alg.jwt(), &key.decoding).expect("verifier");
            assert!(again.verify(b"message", &raw).is_ok());
            // A key of another family is refused for this algorithm.
            let other = SigningAlg::ALL
                .into_iter()
                .find(|a| *a != alg)
                .expect("other");
            let other_key = &keys.signer(other).expect("signer").decoding;
            assert!(
                new_verifier(&alg.jwt(), other_key).is_err(),
                "{alg} with {other}"
            );
        }
    }

    /// Prints verifications per second of jsonwebtoken's own verifier (which rebuilds the
    /// public key each time) and of the cached one, per algorithm, and of a whole
    /// `jwt::verify` of an access token. `cargo test --release --lib verification_rate -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: run by hand"]
    fn verification_rate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = jwt::tests::key_set(dir.path());
        let rate = |n: u32, f: &dyn Fn()| {
            let start = Instant::now();
            for _ in 0..n {
                f();
            }
            f64::from(n) / start.elapsed().as_secs_f64()
        };
        let only = std::env::var("VERIFY_RATE_ALG").ok();
        for alg in SigningAlg::ALL {
            if only.as_deref().is_some_and(|a| a != alg.as_str()) {
                continue;
            }
            let key = keys.signer(alg).expect("signer");
            let msg = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1MSJ9";
            let sig = sign(msg, &key.encoding, alg.jwt()).expect("sign");
            let raw =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, &sig)
                    .expect("b64");
            // Fewer under valgrind: `VERIFY_RATE_N=2000 valgrind --tool=callgrind …`.
            let n = std::env::var("VERIFY_RATE_N")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(20_000);
            let default = rate(n, &|| {
                let v = (DEFAULT_PROVIDER.verifier_factory)(&alg.jwt(), &key.decoding).expect("v");
                assert!(v.verify(msg, &raw).is_ok());
            });
            let cached = rate(n, &|| {
                let v = new_verifier(&alg.jwt(), &key.decoding).expect("v");
                assert!(v.verify(msg, &raw).is_ok());
            });
            let signing = rate(n / 10, &|| {
                assert!(sign(msg, &key.encoding, alg.jwt()).is_ok());
            });
            let default_signing = rate(n / 10, &|| {
                let s = (DEFAULT_PROVIDER.signer_factory)(&alg.jwt(), &key.encoding).expect("s");
                assert!(s.try_sign(msg).is_ok());
            });
            let claims = serde_json::json!({
                "iss": "https://id.example", "sub": "u1", "aud": "app", "client_id": "app",
                "scope": "openid", "jti": "j", "iat": 0, "exp": 4_000_000_000_i64,
            });
            let token = jwt::sign(&keys, alg, ACCESS_TOKEN_TYP, &claims).expect("token");
            let whole = rate(n, &|| {
                let c = jwt::verify::<crate::oidc::claims::AccessClaims>(
                    &keys,
                    &token,
                    ACCESS_TOKEN_TYP,
                    "https://id.example",
                    Some(1),
                    0,
                );
                assert!(c.is_ok());
            });
            println!(
                "{alg}: jsonwebtoken verifier {default:.0}/s, cached verifier {cached:.0}/s, \
                 jwt::verify of an access token {whole:.0}/s, signing {signing:.0}/s \
                 (jsonwebtoken's signer {default_signing:.0}/s), 1 core"
            );
        }
    }
}
