//! The argon2 executor: every password hash and verification of the server runs on a few
//! dedicated threads behind a bounded queue, never on the async workers nor on the blocking
//! pool that the database calls share.
//!
//! At most `threads` hashes run at once (each holds 12 MiB while it runs) and at most `queue`
//! more wait; a check that finds the queue full is refused at once with
//! [`HashingError::Busy`], which pages answer 503 with `Retry-After`. A sign-in storm thus
//! costs a bounded amount of memory and leaves the cores' other work (token grants) running.
//!
//! The argon2 working memory of a finished check is kept for the next
//! ([`password::Memory`]): while sign-ins keep coming, a check allocates nothing, faults in no
//! fresh pages, and takes as long on every thread. Resident memory is thus about 12 MiB per
//! busy thread; memory that no check has used for a few seconds is freed.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::crypto::password;

/// Seconds a refused sign-in is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 2;

/// A job runs with kept argon2 memory.
type Job = Box<dyn FnOnce(&mut password::Memory) + Send>;

/// Why a password could not be hashed or checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashingError {
    /// The queue is full: try again in a moment.
    #[error("too many password checks are waiting")]
    Busy,
    /// argon2 refused the input, or the executor stopped.
    #[error("the password could not be hashed")]
    Failed,
}

/// Counters shared by the submitters and the threads.
#[derive(Default)]
struct Gauges {
    waiting: AtomicI64,
    running: AtomicI64,
    refused: AtomicI64,
}

/// A handle on the argon2 threads; they stop when it is dropped.
pub struct Hashing {
    sender: SyncSender<Job>,
    gauges: Arc<Gauges>,
    shared: Arc<Shared>,
    threads: usize,
    queue: usize,
}

/// What a password check found.
#[derive(Debug)]
pub struct Checked {
    pub matched: bool,
    /// A hash of the matched password with today's parameters, when the stored one was made
    /// with others.
    pub rehashed: Option<String>,
}

/// What the executor is doing now, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingLoad {
    /// Checks waiting for a thread.
    pub waiting: i64,
    /// Hashes running now.
    pub running: i64,
    /// Checks refused since start because the queue was full.
    pub refused: i64,
    pub threads: usize,
    pub queue: usize,
    /// Working memories (12 MiB each) kept for the next checks.
    pub kept_memory: i64,
}

impl Hashing {
    /// Starts `threads` (at least one) argon2 threads with room for `queue` waiting checks.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        Self::keeping_memory(threads, queue, KEEP_MEMORY)
    }

    /// [`Hashing::new`], keeping unused working memory for `keep`.
    fn keeping_memory(threads: usize, queue: usize, keep: Duration) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let shared = Arc::new(Shared {
            queue: Mutex::new(receiver),
            spare: Mutex::new(Vec::with_capacity(threads)),
            keep,
        });
        let gauges = Arc::new(Gauges::default());
        let threads = threads.max(1);
        for n in 0..threads {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{n}"))
                .spawn(move || work(&shared))?;
        }
        Ok(Self {
            sender,
            gauges,
            shared,
            threads,
            queue,
        })
    }

    /// Hashes `password` with a fresh salt into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, HashingError> {
        self.submit(move |_| password::hash(&password).map_err(|_| HashingError::Failed))
            .await?
    }

    /// Whether `password` matches the stored PHC string.
    pub async fn verify(&self, password: String, stored: String) -> Result<bool, HashingError> {
        self.submit(move |memory| password::verify_in(memory, &password, &stored))
            .await
    }

    /// Whether `password` matches the stored PHC string and, when it does and the hash was made
    /// with other than today's parameters, a fresh hash to store in its place (both computed in
    /// one job, so a sign-in queues once).
    pub async fn verify_and_rehash(
        &self,
        password: String,
        stored: String,
    ) -> Result<Checked, HashingError> {
        self.submit(move |memory| {
            let matched = password::verify_in(memory, &password, &stored);
            let rehashed = if matched && password::outdated(&stored) {
                password::hash(&password).ok()
            } else {
                None
            };
            Checked { matched, rehashed }
        })
        .await
    }

    /// Spends the time of one verification and answers `false`: for unknown users, so that
    /// both answers take as long (and count against the queue alike).
    pub async fn verify_dummy(&self, password: String) -> Result<bool, HashingError> {
        self.submit(move |memory| password::verify_dummy_in(memory, &password))
            .await
    }

    /// The executor's load now.
    pub fn load(&self) -> HashingLoad {
        HashingLoad {
            waiting: self.gauges.waiting.load(Ordering::Relaxed),
            running: self.gauges.running.load(Ordering::Relaxed),
            refused: self.gauges.refused.load(Ordering::Relaxed),
            threads: self.threads,
            queue: self.queue,
            kept_memory: self.shared.kept() as i64,
        }
    }

    /// Queues `f` unless the queue is full, and waits for its answer without blocking the
    /// async worker. A job whose requester has gone (a closed connection) is skipped.
    async fn submit<T, F>(&self, f: F) -> Result<T, HashingError>
    where
        F: FnOnce(&mut password::Memory) -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let span = tracing::Span::current();
        let gauges = self.gauges.clone();
        let job: Job = Box::new(move |memory| {
            gauges.waiting.fetch_sub(1, Ordering::Relaxed);
            if answer.is_closed() {
                return;
            }
            gauges.running.fetch_add(1, Ordering::Relaxed);
            let value = span.in_scope(|| f(memory));
            // Counted done before the answer is seen, so the gauges never lag behind it.
            gauges.running.fetch_sub(1, Ordering::Relaxed);
            let _ = answer.send(value);
        });
        self.gauges.waiting.fetch_add(1, Ordering::Relaxed);
        match self.sender.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                self.gauges.waiting.fetch_sub(1, Ordering::Relaxed);
                self.gauges.refused.fetch_add(1, Ordering::Relaxed);
                return Err(HashingError::Busy);
            }
            Err(TrySendError::Disconnected(_)) => {
                self.gauges.waiting.fetch_sub(1, Ordering::Relaxed);
                tracing::error!("The password hashing threads have stopped.");
                return Err(HashingError::Failed);
            }
        }
        answered.await.map_err(|_| HashingError::Failed)
    }
}

/// How long argon2 working memory is kept without a check to use it. Memory freed after a
/// quiet spell costs the next check one allocation; a steady stream of sign-ins keeps it, and a
/// server nobody signs in to goes back to its idle size.
const KEEP_MEMORY: Duration = Duration::from_secs(3);

/// What the argon2 threads share: the queue, and the working memory of finished checks.
struct Shared {
    queue: Mutex<Receiver<Job>>,
    /// At most one per thread, the most recently used last, each with when it was put back.
    spare: Mutex<Vec<(password::Memory, Instant)>>,
    /// How long unused memory is kept: [`KEEP_MEMORY`].
    keep: Duration,
}

impl Shared {
    fn take_memory(&self) -> password::Memory {
        self.spare
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .map(|(memory, _)| memory)
            .unwrap_or_default()
    }

    fn put_back(&self, memory: password::Memory) {
        if let Ok(mut spare) = self.spare.lock() {
            spare.push((memory, Instant::now()));
        }
    }

    /// Frees the memory that has not been used for `keep`.
    fn free_unused(&self) {
        let keep = self.keep;
        if let Ok(mut spare) = self.spare.lock() {
            spare.retain(|(_, at)| at.elapsed() < keep);
        }
    }

    fn kept(&self) -> usize {
        self.spare.lock().map_or(0, |spare| spare.len())
    }
}

/// One argon2 thread: takes the next job until the executor is dropped. The thread waiting for
/// the queue holds its lock, and wakes up every `keep` to free what is unused.
fn work(shared: &Shared) {
    loop {
        let next = match shared.queue.lock() {
            Ok(queue) => queue.recv_timeout(shared.keep),
            Err(_) => return,
        };
        match next {
            Ok(job) => {
                let mut memory = shared.take_memory();
                job(&mut memory);
                shared.put_back(memory);
            }
            Err(RecvTimeoutError::Timeout) => shared.free_unused(),
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hashes "correct horse" and checks that the hash verifies.
    async fn hashed_and_verified(hashing: &Hashing) -> String {
        let stored = hashing.hash("correct horse".into()).await.unwrap();
        let verified = hashing.verify("correct horse".into(), stored.clone());
        assert!(verified.await.unwrap());
        stored
    }

    #[tokio::test]
    async fn hashes_verifies_and_refuses_when_full() {
        let hashing = Hashing::new(1, 1).unwrap();
        let stored = hashed_and_verified(&hashing).await;
        assert!(
            !hashing
                .verify("wrong".into(), stored.clone())
                .await
                .unwrap()
        );
        assert!(!hashing.verify_dummy("x".into()).await.unwrap());

        // One running, one waiting: the rest are refused at once.
        let checks: Vec<_> = (0..6)
            .map(|_| hashing.verify("correct horse".into(), stored.clone()))
            .collect();
        let answers = futures_join(checks).await;
        let refused = answers
            .iter()
            .filter(|a| **a == Err(HashingError::Busy))
            .count();
        let accepted = answers.iter().filter(|a| **a == Ok(true)).count();
        assert_eq!(refused + accepted, 6);
        assert!(refused >= 4, "{answers:?}");
        assert!(accepted >= 1, "{answers:?}");
        let load = hashing.load();
        assert_eq!((load.waiting, load.running), (0, 0));
        assert_eq!(load.refused, refused as i64);
    }

    /// Waits up to `within` for the executor to keep `n` working memories; answers the count.
    /// (A check answers just before its thread puts the memory back.)
    async fn kept_becomes(hashing: &Hashing, n: i64, within: Duration) -> i64 {
        let deadline = Instant::now() + within;
        while hashing.load().kept_memory != n && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        hashing.load().kept_memory
    }

    #[tokio::test]
    async fn working_memory_is_kept_while_used_and_freed_after_a_quiet_spell() {
        // Long enough that a loaded machine still sees the memory before it is freed.
        let keep = Duration::from_secs(1);
        let hashing = Hashing::keeping_memory(1, 4, keep).unwrap();
        assert_eq!(hashing.load().kept_memory, 0);
        let stored = hashed_and_verified(&hashing).await;
        assert_eq!(kept_becomes(&hashing, 1, keep / 2).await, 1);
        // Checks in a row reuse it rather than adding more.
        for _ in 0..3 {
            assert!(!hashing.verify_dummy("x".into()).await.unwrap());
        }
        assert_eq!(kept_becomes(&hashing, 1, keep / 2).await, 1);
        let freed = kept_becomes(&hashing, 0, keep + Duration::from_secs(2)).await;
        assert_eq!(freed, 0, "unused memory was not freed");
        // A check after that allocates again and answers rightly.
        assert!(
            hashing
                .verify("correct horse".into(), stored)
                .await
                .unwrap()
        );
        assert_eq!(kept_becomes(&hashing, 1, keep / 2).await, 1);
    }

    #[tokio::test]
    async fn every_threads_memory_is_freed_after_a_quiet_spell() {
        // Long enough that a loaded machine still sees the memory before it is freed.
        let keep = Duration::from_secs(1);
        let hashing = Hashing::keeping_memory(2, 4, keep).unwrap();
        let checks: Vec<_> = (0..4).map(|_| hashing.verify_dummy("x".into())).collect();
        assert!(futures_join(checks).await.iter().all(|a| *a == Ok(false)));
        // Checks that ran at once had memory of their own; never more than one a thread.
        let kept = kept_becomes(&hashing, 2, keep / 2).await;
        assert!((1..=2).contains(&kept), "{kept} memories kept by 2 threads");
        let freed = kept_becomes(&hashing, 0, keep * 2 + Duration::from_secs(2)).await;
        assert_eq!(freed, 0, "unused memory was not freed");
    }

    /// Polls every future to its first await before awaiting any (so all are queued first).
    async fn futures_join<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
        let mut pinned: Vec<_> = futures.into_iter().map(Box::pin).collect();
        let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
        std::future::poll_fn(|cx| {
            let mut pending = false;
            for (fut, slot) in pinned.iter_mut().zip(out.iter_mut()) {
                if slot.is_none() {
                    match fut.as_mut().poll(cx) {
                        std::task::Poll::Ready(v) => *slot = Some(v),
                        std::task::Poll::Pending => pending = true,
                    }
                }
            }
            if pending {
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
        out.into_iter().flatten().collect()
    }
}
