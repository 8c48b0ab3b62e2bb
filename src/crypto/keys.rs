//! Signing keys: RSA-2048 generation, where the private keys live (PEM files (0600) in the keys
//! folder, or sealed in the database when `TESSERA_KEY_ENCRYPTION_KEY` is set), and the
//! in-memory key set that signs tokens and serves the JWKS.
//!
//! A key is published from creation; it signs from its `signs_from` time (a rotated-in key is
//! pre-published first, so that relying parties have it before they see a token it signed)
//! until retired. The newest key allowed to sign signs. A retired key stays published in the
//! JWKS until every token it signed has expired, then drops out.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use jsonwebtoken::jwk::{Jwk, JwkSet, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::sealed;
use crate::config::{Config, KeyEncryptionKey};
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
    #[error("signing key {kid}: {source}")]
    Sealed {
        kid: String,
        source: sealed::SealError,
    },
    #[error(
        "signing key {0} is stored in the database, encrypted: set TESSERA_KEY_ENCRYPTION_KEY to the key it was stored with"
    )]
    NeedsEncryptionKey(String),
}

/// Where private keys are kept: sealed in the database when a key-encryption key is
/// configured, else as PEM files in the keys folder.
#[derive(Clone)]
pub struct KeyVault {
    dir: PathBuf,
    kek: Option<KeyEncryptionKey>,
}

impl KeyVault {
    pub fn new(dir: PathBuf, kek: Option<KeyEncryptionKey>) -> Self {
        Self { dir, kek }
    }

    pub fn from_config(config: &Config) -> Self {
        Self::new(config.keys_dir.clone(), config.key_encryption_key.clone())
    }

    /// Whether new keys go to the database.
    pub fn in_database(&self) -> bool {
        self.kek.is_some()
    }

    /// A new key: its kid and, when kept in the database, its sealed private key (otherwise
    /// it was written to the keys folder).
    pub fn generate(&self) -> Result<(String, Option<String>), KeyError> {
        let (kid, pem) = new_pem()?;
        match &self.kek {
            Some(kek) => {
                let stored =
                    sealed::seal(kek, &kid, pem.as_bytes()).map_err(|source| KeyError::Sealed {
                        kid: kid.clone(),
                        source,
                    })?;
                Ok((kid, Some(stored)))
            }
            None => {
                write_pem(&self.dir, &kid, pem.as_bytes())?;
                Ok((kid, None))
            }
        }
    }

    /// Parses the private key of `row`, from the database or from its PEM file.
    pub fn load(&self, row: &KeyRow) -> Result<LoadedKey, KeyError> {
        match (&row.private_key, &self.kek) {
            (Some(stored), Some(kek)) => {
                let pem =
                    sealed::open(kek, &row.kid, stored).map_err(|source| KeyError::Sealed {
                        kid: row.kid.clone(),
                        source,
                    })?;
                parse(&row.kid, &pem, || {
                    PathBuf::from(format!("database:{}", row.kid))
                })
            }
            (Some(_), None) => Err(KeyError::NeedsEncryptionKey(row.kid.clone())),
            (None, _) => load(&self.dir, &row.kid),
        }
    }
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
    let (kid, pem) = new_pem()?;
    write_pem(dir, &kid, pem.as_bytes())?;
    Ok(kid)
}

/// A new RSA-2048 key as PKCS#8 PEM, with its kid.
fn new_pem() -> Result<(String, rsa::pkcs8::der::zeroize::Zeroizing<String>), KeyError> {
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
    Ok((kid, pem))
}

/// Writes `dir/<kid>.pem` with mode 0600, creating the folder (0700).
fn write_pem(dir: &Path, kid: &str, pem: &[u8]) -> Result<(), KeyError> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|source| KeyError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    let path = key_path(dir, kid);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .map_err(|source| KeyError::Io {
            path: path.clone(),
            source,
        })?;
    file.write_all(pem)
        .and_then(|_| file.sync_all())
        .map_err(|source| KeyError::Io { path, source })
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
    parse(kid, &pem, || path.clone())
}

/// Parses a PEM private key; `origin` names it in errors.
fn parse(kid: &str, pem: &[u8], origin: impl Fn() -> PathBuf) -> Result<LoadedKey, KeyError> {
    super::signer::install();
    let encoding = EncodingKey::from_rsa_pem(pem).map_err(|_| KeyError::Invalid(origin()))?;
    let jwk = public_jwk(&encoding, Some(kid)).ok_or_else(|| KeyError::Invalid(origin()))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Invalid(origin()))?;
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
    /// Builds the set from the key rows: [`signer_row`] signs; active keys and retired keys
    /// still inside `publish_window` seconds after retirement are published.
    pub fn build(
        vault: &KeyVault,
        rows: &[KeyRow],
        now: i64,
        publish_window: i64,
    ) -> Result<Self, KeyError> {
        let signer_row = signer_row(rows, now).ok_or(KeyError::NoActiveKey)?;
        let mut verifiers = HashMap::new();
        for row in rows {
            if is_published(row, now, publish_window) {
                verifiers.insert(row.kid.clone(), Arc::new(vault.load(row)?));
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

    /// What the set built from `rows` at `now` would publish and sign with, to notice when it
    /// changes (a pre-published key starting to sign changes it without any row changing).
    pub fn fingerprint(rows: &[KeyRow], now: i64, publish_window: i64) -> String {
        let mut parts: Vec<String> = rows
            .iter()
            .filter(|r| is_published(r, now, publish_window))
            .map(|r| r.kid.clone())
            .collect();
        parts.sort();
        let signer = signer_row(rows, now).map(|r| r.kid.as_str()).unwrap_or("");
        format!("{}|{signer}", parts.join(","))
    }
}

/// Published at `now`: not retired, or retired less than `publish_window` seconds ago.
pub fn is_published(row: &KeyRow, now: i64, publish_window: i64) -> bool {
    row.retired_at.is_none_or(|at| at + publish_window > now)
}

/// The key that signs at `now`: the newest active key whose `signs_from` has come; when none
/// has (only a first key still pre-published, say), the newest active key.
pub fn signer_row(rows: &[KeyRow], now: i64) -> Option<&KeyRow> {
    let newest = |r: &&KeyRow| (r.signs_from, r.created_at, r.kid.clone());
    let active = || rows.iter().filter(|r| r.is_active(now));
    active()
        .filter(|r| r.signs_from <= now)
        .max_by_key(newest)
        .or_else(|| active().max_by_key(|r| (r.created_at, r.kid.clone())))
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

    fn row(kid: &str, created_at: i64, signs_from: i64, retired_at: Option<i64>) -> KeyRow {
        KeyRow {
            kid: kid.into(),
            alg: "RS256".into(),
            created_at,
            retired_at,
            private_key: None,
            signs_from,
        }
    }

    #[test]
    fn a_rotated_in_key_signs_only_from_its_time_and_the_old_one_until_then() {
        // Rotated at 100 with 30 s of pre-publication: old retires at 130, new signs from 130.
        let rows = [row("old", 0, 0, Some(130)), row("new", 100, 130, None)];
        let signer = |now| signer_row(&rows, now).map(|r| r.kid.clone());

        assert_eq!(signer(100).as_deref(), Some("old"));
        assert_eq!(signer(129).as_deref(), Some("old"));
        assert_eq!(signer(130).as_deref(), Some("new"));
        assert!(rows.iter().all(|r| is_published(r, 129, 60)));
        assert!(is_published(&rows[0], 189, 60) && !is_published(&rows[0], 190, 60));
        assert_ne!(
            KeySet::fingerprint(&rows, 129, 60),
            KeySet::fingerprint(&rows, 130, 60),
            "the switch of signer alone must trigger a reload"
        );
        // A first key still waiting (no other active key) signs rather than nothing.
        assert_eq!(
            signer_row(&[row("only", 0, 50, None)], 10).map(|r| r.kid.as_str()),
            Some("only")
        );
    }

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
