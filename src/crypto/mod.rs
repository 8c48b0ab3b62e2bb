//! Cryptography, all of it delegated to maintained crates: signing keys and the JWKS,
//! JWT signing and verification, password hashing, random tokens and their hashes, TOTP.

pub mod jwt;
pub mod keys;
pub mod password;
pub mod random;
pub mod sealed;
pub mod signer;
pub mod totp;
