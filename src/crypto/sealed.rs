//! Private keys sealed for storage in the database: AES-256-GCM (aws-lc-rs) under the key from
//! `TESSERA_KEY_ENCRYPTION_KEY`, a fresh random 96-bit nonce per seal, and the key's `kid` as
//! associated data, so a sealed key copied onto another row does not open.
//!
//! Stored form: `v1.` followed by base64url (no padding) of nonce ‖ ciphertext ‖ tag.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::config::KeyEncryptionKey;

const PREFIX: &str = "v1.";

/// Why a sealed key could not be made or opened (deliberately without detail).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the encryption failed")]
    Seal,
    #[error(
        "the stored key cannot be decrypted with this TESSERA_KEY_ENCRYPTION_KEY, or it was altered"
    )]
    Open,
}

fn cipher(kek: &KeyEncryptionKey) -> Result<LessSafeKey, SealError> {
    UnboundKey::new(&AES_256_GCM, kek.bytes())
        .map(LessSafeKey::new)
        .map_err(|_| SealError::Seal)
}

/// Encrypts `plaintext` bound to `kid`.
pub fn seal(kek: &KeyEncryptionKey, kid: &str, plaintext: &[u8]) -> Result<String, SealError> {
    let key = cipher(kek)?;
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| SealError::Seal)?;
    let mut in_out = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(kid.as_bytes()),
        &mut in_out,
    )
    .map_err(|_| SealError::Seal)?;
    let mut stored = nonce.to_vec();
    stored.extend_from_slice(&in_out);
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(stored)))
}

/// Decrypts what [`seal`] made for `kid`.
pub fn open(kek: &KeyEncryptionKey, kid: &str, stored: &str) -> Result<Vec<u8>, SealError> {
    let bytes = stored
        .strip_prefix(PREFIX)
        .and_then(|b64| URL_SAFE_NO_PAD.decode(b64).ok())
        .ok_or(SealError::Open)?;
    if bytes.len() < NONCE_LEN {
        return Err(SealError::Open);
    }
    let (nonce, sealed) = bytes.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
    let mut in_out = sealed.to_vec();
    let plain = cipher(kek)
        .map_err(|_| SealError::Open)?
        .open_in_place(nonce, Aad::from(kid.as_bytes()), &mut in_out)
        .map_err(|_| SealError::Open)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kek(byte: u8) -> KeyEncryptionKey {
        use base64::engine::general_purpose::STANDARD;
        KeyEncryptionKey::parse(&STANDARD.encode([byte; 32])).unwrap()
    }

    #[test]
    fn seals_and_opens_only_with_the_same_key_and_kid() {
        let secret = b"-----BEGIN PRIVATE KEY-----\nMIIE...";
        let sealed = seal(&kek(1), "kid-1", secret).unwrap();

        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("PRIVATE"));
        assert_eq!(open(&kek(1), "kid-1", &sealed).unwrap(), secret);
        assert_eq!(open(&kek(2), "kid-1", &sealed), Err(SealError::Open));
        assert_eq!(open(&kek(1), "kid-2", &sealed), Err(SealError::Open));
    }

    #[test]
    fn every_seal_uses_a_fresh_nonce_and_tampering_is_refused() {
        let a = seal(&kek(1), "k", b"same").unwrap();
        let b = seal(&kek(1), "k", b"same").unwrap();
        assert_ne!(a, b);

        let mut raw = URL_SAFE_NO_PAD.decode(&a[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1.{}", URL_SAFE_NO_PAD.encode(raw));
        assert_eq!(open(&kek(1), "k", &tampered), Err(SealError::Open));
        assert_eq!(open(&kek(1), "k", "v1.AAAA"), Err(SealError::Open));
        assert_eq!(open(&kek(1), "k", "garbage"), Err(SealError::Open));
    }
}
