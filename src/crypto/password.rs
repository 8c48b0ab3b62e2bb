//! Password hashing with argon2id and OWASP parameters. The server calls these only on its
//! argon2 executor (`crate::hashing`); the CLI calls them directly.
//!
//! Of the parameter sets OWASP's password storage cheat sheet gives as equally strong
//! (m = 47, 19, 12, 9 or 7 MiB with t = 1, 2, 3, 4 or 5 passes, p = 1), Tessera hashes with
//! m = 12 MiB, t = 3: on this server a check takes as long as with the 19 MiB set (it touches
//! fewer bytes that are less often out of the cache), and each running check holds 7 MiB less.
//! Hashes made with other parameters still verify, and a sign-in rehashes them
//! ([`outdated`]).

use std::sync::LazyLock;

use argon2::{Algorithm, Argon2, Block, Params, PasswordHash, PasswordHasher, PasswordVerifier};
use subtle::ConstantTimeEq;

/// The most argon2 memory a stored hash may ask a verification for (1 GiB, in 1 KiB blocks).
const MAX_BLOCKS: usize = 1 << 20;

/// A hash of a password nobody knows, verified against when the username is unknown so that
/// both answers take the same time.
static DUMMY_HASH: LazyLock<Option<String>> =
    LazyLock::new(|| hash(&crate::crypto::random::token()).ok());

/// Argon2 memory in KiB, passes and lanes of the hashes Tessera makes.
const M_KIB: u32 = 12 * 1024;
const T_COST: u32 = 3;
const P_COST: u32 = 1;

/// The hasher with Tessera's parameters.
fn argon2() -> Result<Argon2<'static>, argon2::Error> {
    Ok(Argon2::new(
        Algorithm::Argon2id,
        argon2::Version::V0x13,
        Params::new(M_KIB, T_COST, P_COST, None)?,
    ))
}

/// Hashes `password` with a fresh salt into a PHC string.
pub fn hash(password: &str) -> Result<String, argon2::password_hash::Error> {
    Ok(argon2()?.hash_password(password.as_bytes())?.to_string())
}

/// Checks `password` against a stored PHC string (with the parameters it names); a
/// malformed hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    argon2().is_ok_and(|a| a.verify_password(password.as_bytes(), stored).is_ok())
}

/// Whether a stored PHC string was made with other than Tessera's algorithm, version or
/// parameters, so that a sign-in that proves the password should store a fresh hash.
pub fn outdated(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm.as_str() != Algorithm::Argon2id.as_str()
        || parsed.version != Some(argon2::Version::V0x13.into())
        || (params.m_cost(), params.t_cost(), params.p_cost()) != (M_KIB, T_COST, P_COST)
        || params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN) != Params::DEFAULT_OUTPUT_LEN
}

/// Bytes reserved for argon2 working memory at least (see [`Memory::blocks`]).
const UNMAPPED_ON_FREE: usize = 33 << 20;

/// Argon2 working memory that one thread keeps across verifications: each check then neither
/// allocates nor faults in its 12 MiB, and takes as long on every thread of the executor
/// (fresh allocations made some threads' checks slower than others', depending on the
/// allocator's state, which would tell unknown users from known ones).
#[derive(Default)]
pub struct Memory(Vec<Block>);

impl Memory {
    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.0.len() < count {
            // Reserved above the C allocator's largest threshold for mapping a block of its
            // own (glibc: 32 MiB), so that freeing it gives it back to the system at once
            // rather than leaving it in the heap; only the `count` blocks used are touched.
            let mut blocks = Vec::with_capacity(count.max(UNMAPPED_ON_FREE / Block::SIZE));
            blocks.resize(count, Block::new());
            self.0 = blocks;
        }
        &mut self.0[..count]
    }
}

/// Like [`verify`], computing in `memory`: the stored PHC string gives the algorithm,
/// version, parameters and salt; the outputs are compared in constant time.
pub fn verify_in(memory: &mut Memory, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    if params.block_count() > MAX_BLOCKS {
        return false;
    }
    let expected: &[u8] = expected.as_ref();
    let mut out = vec![0u8; expected.len()];
    let blocks = memory.blocks(params.block_count());
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt.as_ref(), &mut out, blocks)
        .is_ok()
        && bool::from(out.ct_eq(expected))
}

/// [`verify_dummy`] computing in `memory`.
pub fn verify_dummy_in(memory: &mut Memory, password: &str) -> bool {
    if let Some(dummy) = DUMMY_HASH.as_deref() {
        let _ = verify_in(memory, password, dummy);
    }
    false
}

/// Spends the time of one verification and answers `false`: for unknown users.
pub fn verify_dummy(password: &str) -> bool {
    if let Some(dummy) = DUMMY_HASH.as_deref() {
        let _ = verify(password, dummy);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let h = hash("correct horse battery staple").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery staple", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "not a hash"));
        assert!(!verify_dummy("anything"));
    }

    #[test]
    fn hashes_with_other_parameters_are_outdated() {
        let h = hash("pw").expect("hash");
        assert!(h.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"), "{h}");
        assert!(!outdated(&h));
        let made_with = |algorithm, m, t, p, len| {
            Argon2::new(
                algorithm,
                argon2::Version::V0x13,
                Params::new(m, t, p, Some(len)).expect("params"),
            )
            .hash_password(b"pw")
            .expect("hash")
            .to_string()
        };
        assert!(!outdated(&made_with(
            Algorithm::Argon2id,
            M_KIB,
            T_COST,
            P_COST,
            32
        )));
        for other in [
            made_with(Algorithm::Argon2id, 19456, 2, 1, 32),
            made_with(Algorithm::Argon2id, M_KIB, T_COST + 1, P_COST, 32),
            made_with(Algorithm::Argon2id, M_KIB, T_COST, 2, 32),
            made_with(Algorithm::Argon2id, M_KIB, T_COST, P_COST, 16),
            made_with(Algorithm::Argon2i, M_KIB, T_COST, P_COST, 32),
        ] {
            assert!(outdated(&other), "{other}");
            assert!(verify("pw", &other), "still verifies: {other}");
        }
        assert!(outdated("not a hash"));
    }

    #[test]
    fn verifying_in_kept_memory_agrees() {
        let h = hash("correct horse battery staple").expect("hash");
        let mut memory = Memory::default();
        for _ in 0..2 {
            assert!(verify_in(&mut memory, "correct horse battery staple", &h));
            assert!(!verify_in(&mut memory, "correct horse battery stapler", &h));
        }
        assert!(!verify_in(&mut memory, "x", "not a hash"));
        assert!(!verify_in(
            &mut memory,
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ"
        ));
        assert!(!verify_dummy_in(&mut memory, "anything"));
        // A hash made with other parameters verifies with the parameters it names.
        let other = Argon2::new(
            Algorithm::Argon2id,
            argon2::Version::V0x13,
            Params::new(4096, 3, 1, None).expect("params"),
        )
        .hash_password(b"pw")
        .expect("hash")
        .to_string();
        assert!(verify_in(&mut memory, "pw", &other));
        assert!(!verify_in(&mut memory, "pW", &other));
    }
}
