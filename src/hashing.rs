//! The argon2 executor: every password hash and verification of the server runs on a few
//! dedicated threads behind a bounded queue, never on the async workers nor on the blocking
//! pool that the database calls share.
//!
//! At most `threads` hashes run at once (each holds 19 MiB while it runs) and at most `queue`
//! more wait; a check that finds the queue full is refused at once with
//! [`HashingError::Busy`], which pages answer 503 with `Retry-After`. A sign-in storm thus
//! costs a bounded amount of memory and leaves the cores' other work (token grants) running.
//!
//! Each thread keeps its argon2 working memory between verifications
//! ([`password::Memory`]): a check allocates nothing, faults in no fresh pages, and takes as
//! long on every thread, so resident memory stays at about 19 MiB per thread once used.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::crypto::password;

/// Seconds a refused sign-in is told to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u32 = 2;

/// A job runs with its thread's kept argon2 memory.
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
    threads: usize,
    queue: usize,
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
}

impl Hashing {
    /// Starts `threads` (at least one) argon2 threads with room for `queue` waiting checks.
    pub fn new(threads: usize, queue: usize) -> std::io::Result<Self> {
        let (sender, receiver) = mpsc::sync_channel::<Job>(queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let gauges = Arc::new(Gauges::default());
        let threads = threads.max(1);
        for n in 0..threads {
            let receiver = receiver.clone();
            std::thread::Builder::new()
                .name(format!("tessera-argon2-{n}"))
                .spawn(move || work(&receiver))?;
        }
        Ok(Self {
            sender,
            gauges,
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

/// One argon2 thread: takes the next job until the executor is dropped.
fn work(receiver: &Mutex<Receiver<Job>>) {
    let mut memory = password::Memory::default();
    loop {
        let next = match receiver.lock() {
            Ok(queue) => queue.recv(),
            Err(_) => return,
        };
        let Ok(job) = next else { return };
        job(&mut memory);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verifies_and_refuses_when_full() {
        let hashing = Hashing::new(1, 1).unwrap();
        let stored = hashing.hash("correct horse".into()).await.unwrap();
        assert!(
            hashing
                .verify("correct horse".into(), stored.clone())
                .await
                .unwrap()
        );
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
