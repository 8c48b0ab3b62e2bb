//! Signing keys: RSA-2048 generation, PEM files (0600) in the keys folder, their lifecycle rows
//! in the database, and the in-memory key set that signs tokens and serves the JWKS.
//!
//! A key is *active* from creation until retired; the newest active key signs. A retired key
//! stays published in the JWKS until every token it signed has expired, then drops out.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use crate::db::keys::KeyRow;

/// Why a key could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate an RSA key: {0}")]
    Generate(String),
    #[error("cannot write or read the key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {0} is not a valid RSA private key")]
    Invalid(PathBuf),
    #[error("no active signing key: run `tessera keys rotate`")]
    NoActiveKey,
}

/// One private key, parsed once, with its public JWK.
pub struct LoadedKey {
    pub kid: String,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

/// A new RSA-2048 key written to `dir/<kid>.pem` with mode 0600; returns its kid.
pub fn generate(dir: &Path) -> Result<String, KeyError> {
    super::signer::install();
    let mut rng = rsa::rand_core::OsRng;
    let private =
        rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| KeyError::Generate(e.to_string()))?;
    let pem = private
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Generate(e.to_string()))?;
    let encoding =
        EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError::Generate(e.to_string()))?;
    let kid = public_jwk(&encoding, None)
        .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256).ok())
        .ok_or_else(|| KeyError::Generate("cannot compute the key thumbprint".into()))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    let path = key_path(dir, &kid);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
    file.write_all(pem.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|source| KeyError::Io { path, source })?;
    Ok(kid)
}

fn key_path(dir: &Path, kid: &str) -> PathBuf {
    dir.join(format!("{kid}.pem"))
}

/// The public JWK of a private key (n, e only), with `kid`, `use=sig` and `alg=RS256` when a kid is given.
fn public_jwk(encoding: &EncodingKey, kid: Option<&str>) -> Option<Jwk> {
    let mut jwk = Jwk::from_encoding_key(encoding, Algorithm::RS256).ok()?;
    if let Some(kid) = kid {
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(KeyAlgorithm::RS256);
    }
    Some(jwk)
}

/// Reads and parses `dir/<kid>.pem`.
pub fn load(dir: &Path, kid: &str) -> Result<LoadedKey, KeyError> {
    super::signer::install();
    let path = key_path(dir, kid);
    let pem = fs::read(&path).map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    let encoding = EncodingKey::from_rsa_pem(&pem).map_err(|_| KeyError::Invalid(path.clone()))?;
    let jwk = public_jwk(&encoding, Some(kid)).ok_or_else(|| KeyError::Invalid(path.clone()))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Invalid(path))?;
    Ok(LoadedKey {
        kid: kid.to_string(),
        encoding,
        decoding,
        jwk,
    })
}

/// The keys in force at one moment: the signer, every published verifier, and the JWKS body.
pub struct KeySet {
    pub signer: Arc<LoadedKey>,
    verifiers: HashMap<String, Arc<LoadedKey>>,
    jwks_json: String,
}

impl KeySet {
    /// Builds the set from the key rows: the newest active key signs; active keys and retired
    /// keys still inside `publish_window` seconds after retirement are published.
    pub fn build(
        dir: &Path,
        rows: &[KeyRow],
        now: i64,
        publish_window: i64,
    ) -> Result<Self, KeyError> {
        let signer_row = rows
            .iter()
            .filter(|r| r.retired_at.is_none())
            .max_by_key(|r| (r.created_at, r.kid.clone()))
            .ok_or(KeyError::NoActiveKey)?;
        let mut verifiers = HashMap::new();
        for row in rows {
            let published = match row.retired_at {
                None => true,
                Some(at) => at + publish_window > now,
            };
            if published {
                verifiers.insert(row.kid.clone(), Arc::new(load(dir, &row.kid)?));
            }
        }
        let signer = verifiers
            .get(&signer_row.kid)
            .cloned()
            .ok_or(KeyError::NoActiveKey)?;
        let mut keys: Vec<Jwk> = verifiers.values().map(|k| k.jwk.clone()).collect();
        keys.sort_by(|a, b| a.common.key_id.cmp(&b.common.key_id));
        let jwks_json = serde_json::to_string(&JwkSet { keys }).unwrap_or_default();
        Ok(Self {
            signer,
            verifiers,
            jwks_json,
        })
    }

    /// The published key with this kid, if any.
    pub fn verifier(&self, kid: &str) -> Option<&LoadedKey> {
        self.verifiers.get(kid).map(|k| k.as_ref())
    }

    /// The JWKS document (public members only).
    pub fn jwks_json(&self) -> &str {
        &self.jwks_json
    }

    /// What the set built from `rows` at `now` would publish, to notice when it changes.
    pub fn fingerprint(rows: &[KeyRow], now: i64, publish_window: i64) -> String {
        let mut parts: Vec<String> = rows
            .iter()
            .filter(|r| r.retired_at.is_none_or(|at| at + publish_window > now))
            .map(|r| format!("{}:{}", r.kid, r.retired_at.is_some()))
            .collect();
        parts.sort();
        parts.join(",")
    }
}

/// The shared, swappable key set held by the running server.
#[derive(Clone)]
pub struct KeyStore {
    current: Arc<RwLock<(String, Arc<KeySet>)>>,
}

impl KeyStore {
    pub fn new(fingerprint: String, set: KeySet) -> Self {
        Self {
            current: Arc::new(RwLock::new((fingerprint, Arc::new(set)))),
        }
    }

    /// The key set in force now.
    pub fn get(&self) -> Arc<KeySet> {
        match self.current.read() {
            Ok(guard) => guard.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// Whether the stored rows differ from those the current set was built from.
    pub fn is_stale(&self, fingerprint: &str) -> bool {
        match self.current.read() {
            Ok(guard) => guard.0 != fingerprint,
            Err(poisoned) => poisoned.into_inner().0 != fingerprint,
        }
    }

    /// Installs a freshly built set.
    pub fn replace(&self, fingerprint: String, set: KeySet) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = (fingerprint, Arc::new(set));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_0600_and_kid_is_its_thumbprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kid = generate(dir.path()).expect("generate");
        let path = key_path(dir.path(), &kid);
        let mode = fs::metadata(&path).expect("stat").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        let key = load(dir.path(), &kid).expect("load");
        let again = public_jwk(&key.encoding, None)
            .and_then(|j| j.thumbprint(ThumbprintHash::SHA256).ok())
            .expect("thumbprint");
        assert_eq!(again, kid);
        let json = serde_json::to_value(&key.jwk).expect("json");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(json.get(private).is_none(), "{private} leaked");
        }
    }
}
