//! The physical limits of this machine for the work each token endpoint does: RS256 (RSA-2048),
//! ES256 and Ed25519 signatures, RS256 verifications (aws-lc-rs, the backend the server signs
//! with, keys parsed once as in `tessera::crypto::signer`), and argon2id password checks with
//! the server's own parameters and, like its argon2 executor, working memory kept per thread
//! (`tessera::crypto::password::verify_in`). One thread per core.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, UnparsedPublicKey,
};
use serde::Serialize;
use tessera::crypto::password::{Memory, verify_in};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 1.0)]
    seconds: f64,
    /// Measurements per operation; the best one counts (other processes only ever slow a
    /// round down, so the fastest is the closest to what the machine can do).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

#[derive(Debug, Serialize)]
struct Limits {
    kind: &'static str,
    threads: usize,
    rs256_sign_per_s: f64,
    /// The median round, beside the best: how much this machine's neighbours slowed it.
    rs256_sign_median_per_s: f64,
    es256_sign_per_s: f64,
    ed25519_sign_per_s: f64,
    rs256_verify_per_s: f64,
    argon2id_per_s: f64,
    argon2id_median_per_s: f64,
    argon2id_one_thread_ms: f64,
}

/// Operations per second over several rounds: the best round, which is the limit, and the
/// median one.
#[derive(Debug, Clone, Copy)]
struct Rate {
    best: f64,
    median: f64,
}

/// A JWT signing input of the size of an access token's header and claims.
fn signing_input() -> Vec<u8> {
    let mut input = b"eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCIsImtpZCI6ImJlbmNoIn0.".to_vec();
    input.extend(std::iter::repeat_n(b'e', 420));
    input
}

/// `rounds` runs of `op` on `threads` threads for `seconds` each: operations per second in
/// total, the best and the median run.
fn throughput<F>(threads: usize, seconds: f64, rounds: usize, op: F) -> anyhow::Result<Rate>
where
    F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let mut runs = (0..rounds.max(1))
        .map(|_| one_round(threads, seconds, Arc::clone(&op)))
        .collect::<anyhow::Result<Vec<f64>>>()?;
    runs.sort_by(f64::total_cmp);
    Ok(Rate {
        best: runs[runs.len() - 1],
        median: runs[runs.len() / 2],
    })
}

fn one_round<F>(threads: usize, seconds: f64, op: Arc<F>) -> anyhow::Result<f64>
where
    F: Fn() -> anyhow::Result<()> + Send + Sync + 'static,
{
    let run_for = Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let op = Arc::clone(&op);
            std::thread::spawn(move || -> anyhow::Result<u64> {
                let begin = Instant::now();
                let mut count = 0u64;
                while begin.elapsed() < run_for {
                    op()?;
                    count += 1;
                }
                Ok(count)
            })
        })
        .collect();
    let mut total = 0u64;
    for worker in workers {
        total += worker
            .join()
            .map_err(|_| anyhow!("a measuring thread panicked"))??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

const PASSWORD: &str = "correct horse battery staple";

thread_local! {
    static MEMORY: RefCell<Memory> = RefCell::new(Memory::default());
}

/// One password check with this thread's argon2 memory, as on the server's executor.
fn check_password(stored: &str) -> anyhow::Result<()> {
    if MEMORY.with_borrow_mut(|memory| verify_in(memory, PASSWORD, stored)) {
        Ok(())
    } else {
        Err(anyhow!("argon2 verification failed"))
    }
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let (seconds, rounds) = (args.seconds, args.rounds);
    let input = Arc::new(signing_input());

    let rsa = Arc::new(
        RsaKeyPair::generate(KeySize::Rsa2048).map_err(|e| anyhow!("RSA key generation: {e}"))?,
    );
    let rs256_sign = {
        let (rsa, input) = (Arc::clone(&rsa), Arc::clone(&input));
        throughput(threads, seconds, rounds, move || {
            let mut sig = vec![0; rsa.public_modulus_len()];
            rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &input, &mut sig)
                .map_err(|e| anyhow!("RS256 sign: {e}"))
        })?
    };
    let rs256_verify = {
        let mut sig = vec![0; rsa.public_modulus_len()];
        rsa.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), &input, &mut sig)
            .map_err(|e| anyhow!("RS256 sign: {e}"))?;
        let public = rsa.public_key().as_ref().to_vec();
        let input = Arc::clone(&input);
        throughput(threads, seconds, rounds, move || {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &public)
                .verify(&input, &sig)
                .map_err(|e| anyhow!("RS256 verify: {e}"))
        })?
    };
    let es256_sign = {
        let key = Arc::new(
            EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|e| anyhow!("P-256 key generation: {e}"))?,
        );
        let input = Arc::clone(&input);
        throughput(threads, seconds, rounds, move || {
            key.sign(&SystemRandom::new(), &input)
                .map(|_| ())
                .map_err(|e| anyhow!("ES256 sign: {e}"))
        })?
    };
    let ed25519_sign = {
        let key = Arc::new(
            Ed25519KeyPair::generate().map_err(|e| anyhow!("Ed25519 key generation: {e}"))?,
        );
        let input = Arc::clone(&input);
        throughput(threads, seconds, rounds, move || {
            let _ = key.sign(&input);
            Ok(())
        })?
    };
    // The sign-in checks a password against a stored hash (the same work as hashing it), as
    // the server's argon2 executor does: each thread keeps its working memory.
    let stored = tessera::crypto::password::hash(PASSWORD)
        .map_err(|e| anyhow!("argon2 hash: {e}"))
        .context("cannot hash with the server's parameters")?;
    check_password(&stored)?;
    let single = Instant::now();
    check_password(&stored)?;
    let argon2id_one_thread_ms = single.elapsed().as_secs_f64() * 1000.0;
    let argon2id = throughput(threads, seconds.max(1.0), rounds, move || {
        check_password(&stored)
    })?;

    let limits = Limits {
        kind: "limits",
        threads,
        rs256_sign_per_s: rs256_sign.best,
        rs256_sign_median_per_s: rs256_sign.median,
        es256_sign_per_s: es256_sign.best,
        ed25519_sign_per_s: ed25519_sign.best,
        rs256_verify_per_s: rs256_verify.best,
        argon2id_per_s: argon2id.best,
        argon2id_median_per_s: argon2id.median,
        argon2id_one_thread_ms,
    };
    println!("{}", serde_json::to_string(&limits)?);
    Ok(())
}
