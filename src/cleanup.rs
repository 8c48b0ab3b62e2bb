//! Removing expired rows: `tessera cleanup`, and a background task in every server. Each
//! table is emptied of what expired in batches of [`BATCH`] rows, each batch its own short
//! statement, so a large backlog never blocks sign-ins; several instances may run it at once.

use std::time::Duration;

use serde::Serialize;

use crate::db::{self, Conn, Db};

/// Rows deleted per statement.
pub const BATCH: i64 = 500;
/// At most this many batches per table in one run; the next run continues.
const MAX_BATCHES: usize = 200;

/// How many rows one run deleted, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub auth_codes: usize,
    pub refresh_tokens: usize,
    pub revoked_access_tokens: usize,
    pub sessions: usize,
    pub login_throttle: usize,
}

impl Removed {
    pub fn total(&self) -> usize {
        self.auth_codes
            + self.refresh_tokens
            + self.revoked_access_tokens
            + self.sessions
            + self.login_throttle
    }
}

type Step = fn(&mut Conn, i64, i64) -> diesel::QueryResult<usize>;

/// Deletes batches with `step` until one comes back short (or the cap is reached).
fn drain(conn: &mut Conn, step: Step, now: i64) -> diesel::QueryResult<usize> {
    let mut total = 0;
    for _ in 0..MAX_BATCHES {
        let n = step(conn, now, BATCH)?;
        total += n;
        if n < BATCH as usize {
            break;
        }
    }
    Ok(total)
}

/// Deletes what expired as of `now`.
pub fn run(conn: &mut Conn, now: i64) -> diesel::QueryResult<Removed> {
    use db::expired;
    Ok(Removed {
        auth_codes: drain(conn, expired::codes, now)?,
        refresh_tokens: drain(conn, expired::refresh_tokens, now)?,
        revoked_access_tokens: drain(conn, expired::revoked_access_tokens, now)?,
        sessions: drain(conn, expired::sessions, now)?,
        login_throttle: drain(conn, expired::throttle, now)?,
    })
}

/// Runs the cleanup every `interval` for as long as the server runs.
pub fn spawn(db: Db, interval: Duration) {
    tokio::spawn(async move {
        // The first run waits one interval: a starting server has other things to do.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let outcome = db
                .run(|conn| run(conn, crate::clock::now()).map_err(db::DbError::from))
                .await;
            match outcome {
                Ok(removed) if removed.total() > 0 => tracing::info!(
                    auth_codes = removed.auth_codes,
                    refresh_tokens = removed.refresh_tokens,
                    revoked_access_tokens = removed.revoked_access_tokens,
                    sessions = removed.sessions,
                    login_throttle = removed.login_throttle,
                    "Deleted expired rows."
                ),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "Could not delete expired rows."),
            }
        }
    });
}
