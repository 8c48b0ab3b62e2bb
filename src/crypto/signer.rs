//! JWT signing and verification with each key parsed once.
//!
//! jsonwebtoken's aws-lc backend parses the private key on every signature (for RS256 the
//! DER parse costs about twice the signature itself; for ES256 and EdDSA it recomputes the
//! public key, as much work again as signing) and rebuilds the public key on every
//! verification. This provider keeps jsonwebtoken building, encoding and checking the JWT and
//! aws-lc-rs doing the arithmetic, but caches the parsed key pairs (here) and public keys
//! ([`super::verifier`]) per key.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};
use sha2::{Digest, Sha256};

/// A parsed private key.
enum KeyPair {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// Parsed key pairs, by the SHA-256 of their DER.
static PARSED: LazyLock<RwLock<HashMap<[u8; 32], Arc<KeyPair>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// At most this many parsed private keys are kept (the key set holds a handful).
const MAX_CACHED: usize = 64;

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: super::verifier::new_verifier,
    ..DEFAULT_PROVIDER.clone()
});

/// Installs the caching provider for the process; call before any other jsonwebtoken use.
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if PROVIDER.install_default().is_err() {
            tracing::debug!(
                "A JWT crypto provider was already installed; signing parses keys per call."
            );
        }
    });
}

fn parsed(algorithm: Algorithm, der: &[u8]) -> Result<Arc<KeyPair>, Error> {
    let id: [u8; 32] = Sha256::digest(der).into();
    let cached = match PARSED.read() {
        Ok(map) => map.get(&id).cloned(),
        Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
    };
    if let Some(pair) = cached {
        return Ok(pair);
    }
    let pair = Arc::new(match algorithm {
        Algorithm::ES256 => KeyPair::Ec(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|_| Error::from(ErrorKind::InvalidEcdsaKey))?,
        ),
        Algorithm::EdDSA => KeyPair::Ed(
            Ed25519KeyPair::from_pkcs8(der).map_err(|_| Error::from(ErrorKind::InvalidEddsaKey))?,
        ),
        _ => KeyPair::Rsa(
            RsaKeyPair::from_der(der)
                .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))?,
        ),
    });
    let mut map = match PARSED.write() {
        Ok(map) => map,
        Err(poisoned) => poisoned.into_inner(),
    };
    if map.len() >= MAX_CACHED {
        map.clear();
    }
    map.insert(id, pair.clone());
    Ok(pair)
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    let ours = matches!(
        (algorithm, key.family()),
        (Algorithm::RS256, AlgorithmFamily::Rsa)
            | (Algorithm::ES256, AlgorithmFamily::Ec)
            | (Algorithm::EdDSA, AlgorithmFamily::Ed)
    );
    if !ours {
        return (DEFAULT_PROVIDER.signer_factory)(algorithm, key);
    }
    Ok(Box::new(CachedSigner {
        algorithm: *algorithm,
        pair: parsed(*algorithm, key.as_bytes())?,
    }))
}

struct CachedSigner {
    algorithm: Algorithm,
    pair: Arc<KeyPair>,
}

impl Signer<Vec<u8>> for CachedSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        match self.pair.as_ref() {
            KeyPair::Rsa(pair) => {
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
                    .map_err(signature::Error::from_source)?;
                Ok(sig)
            }
            KeyPair::Ec(pair) => pair
                .sign(&SystemRandom::new(), msg)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(signature::Error::from_source),
            KeyPair::Ed(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for CachedSigner {
    fn algorithm(&self) -> Algorithm {
        self.algorithm
    }
}
