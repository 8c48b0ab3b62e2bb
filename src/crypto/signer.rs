//! RS256 signing with each private key parsed once.
//!
//! jsonwebtoken's aws-lc backend parses the private key DER on every signature, which costs
//! about twice the signature itself. This provider keeps jsonwebtoken building and encoding
//! the JWT and aws-lc-rs doing the signing, but caches the parsed key pair per key.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Once, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::errors::{Error, ErrorKind};
use jsonwebtoken::signature::{self, Signer};
use jsonwebtoken::{Algorithm, AlgorithmFamily, EncodingKey};
use sha2::{Digest, Sha256};

/// Parsed key pairs, by the SHA-256 of their DER.
static PARSED: LazyLock<RwLock<HashMap<[u8; 32], Arc<RsaKeyPair>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: LazyLock<CryptoProvider> = LazyLock::new(|| CryptoProvider {
    signer_factory: new_signer,
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

fn parsed(der: &[u8]) -> Result<Arc<RsaKeyPair>, Error> {
    let id: [u8; 32] = Sha256::digest(der).into();
    let cached = match PARSED.read() {
        Ok(map) => map.get(&id).cloned(),
        Err(poisoned) => poisoned.into_inner().get(&id).cloned(),
    };
    if let Some(pair) = cached {
        return Ok(pair);
    }
    let pair = Arc::new(
        RsaKeyPair::from_der(der)
            .map_err(|e| Error::from(ErrorKind::InvalidRsaKey(e.to_string())))?,
    );
    let mut map = match PARSED.write() {
        Ok(map) => map,
        Err(poisoned) => poisoned.into_inner(),
    };
    map.insert(id, pair.clone());
    Ok(pair)
}

fn new_signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
    if *algorithm == Algorithm::RS256 && key.family() == AlgorithmFamily::Rsa {
        return Ok(Box::new(CachedRs256(parsed(key.as_bytes())?)));
    }
    (DEFAULT_PROVIDER.signer_factory)(algorithm, key)
}

struct CachedRs256(Arc<RsaKeyPair>);

impl Signer<Vec<u8>> for CachedRs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, signature::Error> {
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(signature::Error::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for CachedRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}
