//! Signing keys of the three types (RSA-2048 for RS256, P-256 for ES256, Ed25519 for EdDSA):
//! generation, where the private keys live (PKCS#8 PEM files (0600) in the keys folder, or
//! sealed in the database when `TESSERA_KEY_ENCRYPTION_KEY` is set), and parsing them into
//! [`LoadedKey`]s with their public JWK. The set in force is in [`super::keyset`].

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair};
use jsonwebtoken::jwk::{Jwk, KeyAlgorithm, PublicKeyUse, ThumbprintHash};
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs8::der::zeroize::Zeroizing;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};

use super::alg::SigningAlg;
use super::sealed;
use crate::config::{Config, KeyEncryptionKey};
use crate::db::keys::KeyRow;

pub use super::keyset::{KeySet, KeyStore, is_published, signer_row, signing_kids};

/// Why a key could not be created or loaded.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot generate a signing key: {0}")]
    Generate(String),
    #[error("cannot write or read the key file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {0} is not a valid private key of its algorithm")]
    Invalid(PathBuf),
    #[error("signing key {kid} has an unknown algorithm: {message}")]
    Algorithm { kid: String, message: String },
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

    /// A new key for `alg`: its kid and, when kept in the database, its sealed private key
    /// (otherwise it was written to the keys folder).
    pub fn generate(&self, alg: SigningAlg) -> Result<(String, Option<String>), KeyError> {
        let (kid, pem) = new_pem(alg)?;
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
        let alg = SigningAlg::parse(&row.alg).map_err(|message| KeyError::Algorithm {
            kid: row.kid.clone(),
            message,
        })?;
        match (&row.private_key, &self.kek) {
            (Some(stored), Some(kek)) => {
                let pem =
                    sealed::open(kek, &row.kid, stored).map_err(|source| KeyError::Sealed {
                        kid: row.kid.clone(),
                        source,
                    })?;
                parse(alg, &row.kid, &pem, || {
                    PathBuf::from(format!("database:{}", row.kid))
                })
            }
            (Some(_), None) => Err(KeyError::NeedsEncryptionKey(row.kid.clone())),
            (None, _) => load(&self.dir, alg, &row.kid),
        }
    }
}

/// One private key, parsed once, with its public JWK.
pub struct LoadedKey {
    pub kid: String,
    pub alg: SigningAlg,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub jwk: Jwk,
}

/// A new key for `alg` written to `dir/<kid>.pem` with mode 0600; returns its kid.
pub fn generate(dir: &Path, alg: SigningAlg) -> Result<String, KeyError> {
    let (kid, pem) = new_pem(alg)?;
    write_pem(dir, &kid, pem.as_bytes())?;
    Ok(kid)
}

/// A new private key for `alg` as PKCS#8 PEM, with its kid (the RFC 7638 thumbprint).
fn new_pem(alg: SigningAlg) -> Result<(String, Zeroizing<String>), KeyError> {
    super::signer::install();
    let failed = |e: &dyn std::fmt::Display| KeyError::Generate(e.to_string());
    let pem = match alg {
        SigningAlg::RS256 => {
            let mut rng = rsa::rand_core::OsRng;
            let private = rsa::RsaPrivateKey::new(&mut rng, 2048).map_err(|e| failed(&e))?;
            private
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| failed(&e))?
        }
        SigningAlg::ES256 => {
            let pair =
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).map_err(|e| failed(&e))?;
            pkcs8_pem(pair.to_pkcs8v1().map_err(|e| failed(&e))?.as_ref())?
        }
        SigningAlg::EdDSA => {
            let pair = Ed25519KeyPair::generate().map_err(|e| failed(&e))?;
            pkcs8_pem(pair.to_pkcs8v1().map_err(|e| failed(&e))?.as_ref())?
        }
    };
    let encoding = encoding_key(alg, pem.as_bytes()).map_err(|e| failed(&e))?;
    let kid = public_jwk(&encoding, alg, None)
        .and_then(|jwk| jwk.thumbprint(ThumbprintHash::SHA256).ok())
        .ok_or_else(|| KeyError::Generate("cannot compute the key thumbprint".into()))?;
    Ok((kid, pem))
}

/// PKCS#8 DER as a `PRIVATE KEY` PEM document.
fn pkcs8_pem(der: &[u8]) -> Result<Zeroizing<String>, KeyError> {
    rsa::pkcs8::der::pem::encode_string("PRIVATE KEY", LineEnding::LF, der)
        .map(Zeroizing::new)
        .map_err(|e| KeyError::Generate(e.to_string()))
}

/// Parses a PKCS#8 PEM private key of `alg`'s type.
fn encoding_key(alg: SigningAlg, pem: &[u8]) -> jsonwebtoken::errors::Result<EncodingKey> {
    match alg {
        SigningAlg::RS256 => EncodingKey::from_rsa_pem(pem),
        SigningAlg::ES256 => EncodingKey::from_ec_pem(pem),
        SigningAlg::EdDSA => EncodingKey::from_ed_pem(pem),
    }
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

/// The public JWK of a private key (RSA n/e, EC crv/x/y or OKP crv/x only), with `kid`,
/// `use=sig` and `alg` when a kid is given.
fn public_jwk(encoding: &EncodingKey, alg: SigningAlg, kid: Option<&str>) -> Option<Jwk> {
    let mut jwk = Jwk::from_encoding_key(encoding, alg.jwt()).ok()?;
    jwk.common.key_algorithm = None;
    if let Some(kid) = kid {
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        jwk.common.key_algorithm = Some(match alg {
            SigningAlg::RS256 => KeyAlgorithm::RS256,
            SigningAlg::ES256 => KeyAlgorithm::ES256,
            SigningAlg::EdDSA => KeyAlgorithm::EdDSA,
        });
    }
    Some(jwk)
}

/// Reads and parses `dir/<kid>.pem`, a private key of `alg`'s type.
pub fn load(dir: &Path, alg: SigningAlg, kid: &str) -> Result<LoadedKey, KeyError> {
    let path = key_path(dir, kid);
    let pem = fs::read(&path).map_err(|source| KeyError::Io {
        path: path.clone(),
        source,
    })?;
    parse(alg, kid, &pem, || path.clone())
}

/// Parses a PEM private key of `alg`'s type; `origin` names it in errors.
fn parse(
    alg: SigningAlg,
    kid: &str,
    pem: &[u8],
    origin: impl Fn() -> PathBuf,
) -> Result<LoadedKey, KeyError> {
    super::signer::install();
    let encoding = encoding_key(alg, pem).map_err(|_| KeyError::Invalid(origin()))?;
    let jwk = public_jwk(&encoding, alg, Some(kid)).ok_or_else(|| KeyError::Invalid(origin()))?;
    let decoding = DecodingKey::from_jwk(&jwk).map_err(|_| KeyError::Invalid(origin()))?;
    Ok(LoadedKey {
        kid: kid.to_string(),
        alg,
        encoding,
        decoding,
        jwk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_is_0600_and_kid_is_its_thumbprint() {
        let dir = tempfile::tempdir().expect("tempdir");
        for (alg, kty, crv) in [
            (SigningAlg::RS256, "RSA", None),
            (SigningAlg::ES256, "EC", Some("P-256")),
            (SigningAlg::EdDSA, "OKP", Some("Ed25519")),
        ] {
            let kid = generate(dir.path(), alg).expect("generate");
            let path = key_path(dir.path(), &kid);
            let mode = fs::metadata(&path).expect("stat").permissions();
            assert_eq!(
                std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
                0o600
            );
            let key = load(dir.path(), alg, &kid).expect("load");
            let again = public_jwk(&key.encoding, alg, None)
                .and_then(|j| j.thumbprint(ThumbprintHash::SHA256).ok())
                .expect("thumbprint");
            assert_eq!(again, kid);
            let json = serde_json::to_value(&key.jwk).expect("json");
            assert_eq!(json["kty"], kty);
            assert_eq!(json["alg"], alg.as_str());
            assert_eq!(json["use"], "sig");
            assert_eq!(json["crv"].as_str(), crv);
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(json.get(private).is_none(), "{private} leaked");
            }
            // A key file read as another type is refused rather than misused.
            let other = SigningAlg::ALL
                .into_iter()
                .find(|a| *a != alg)
                .expect("other");
            assert!(matches!(
                load(dir.path(), other, &kid),
                Err(KeyError::Invalid(_))
            ));
        }
    }
}
