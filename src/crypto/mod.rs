//! Cryptography, all of it delegated to maintained crates: signing keys of three types and the JWKS,
//! JWT signing and verification, password hashing, random tokens and their hashes, TOTP.

pub mod alg;
pub mod jwt;
pub mod keys;
pub mod keyset;
pub mod password;
pub mod random;
pub mod sealed;
pub mod signer;
pub mod totp;
pub mod verifier;
