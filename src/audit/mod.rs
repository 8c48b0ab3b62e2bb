//! The audit log: who did what when. Each event is stored (`audit_events`), written as a
//! structured log line, and, when a webhook is configured, queued for delivery.
//!
//! Events name people and clients by id and never carry a secret, token, code or password.

pub mod webhook;

use crate::config::AuditWebhook;
use crate::crypto::random;
use crate::db::audit::AuditRow;
use crate::db::{self, Conn, Db, DbError};

/// How many events may wait for the webhook before new ones are dropped.
pub const QUEUE_CAPACITY: usize = 1024;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(String),
    Client(String),
    Cli,
    Anonymous,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::User(id) => write!(f, "user:{id}"),
            Self::Client(id) => write!(f, "client:{id}"),
            Self::Cli => f.write_str("cli"),
            Self::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// One event, ready to store.
pub fn event(now: i64, actor: &Actor, action: &str, target: &str, detail: &str) -> AuditRow {
    AuditRow {
        id: random::id(),
        at: now,
        actor: actor.to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: detail.to_string(),
    }
}

/// Records events: the database row, the log line, and the webhook queue.
#[derive(Clone, Default)]
pub struct Auditor {
    queue: Option<tokio::sync::mpsc::Sender<AuditRow>>,
}

impl Auditor {
    /// Stores and logs events, delivering nothing.
    pub fn log_only() -> Self {
        Self { queue: None }
    }

    /// Stores and logs events and delivers them to `hook` from a background task.
    /// Must be called inside a Tokio runtime.
    pub fn with_webhook(hook: AuditWebhook) -> Self {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE_CAPACITY);
        tokio::spawn(webhook::deliver_all(hook, rx));
        Self { queue: Some(tx) }
    }

    /// Stores `row` with `conn` (inside the caller's transaction), then logs and queues it.
    pub fn record(&self, conn: &mut Conn, row: AuditRow) -> Result<(), diesel::result::Error> {
        db::audit::insert(conn, &row)?;
        self.emit(row);
        Ok(())
    }

    /// Stores an event from async code; a storage failure is logged and does not fail the
    /// caller (an audit write never blocks a sign-in).
    pub async fn record_async(&self, db: &Db, row: AuditRow) {
        let auditor = self.clone();
        let action = row.action.clone();
        let outcome = db
            .run(move |conn| auditor.record(conn, row).map_err(DbError::from))
            .await;
        if let Err(e) = outcome {
            tracing::error!(error = %e, action = %action, "An audit event could not be stored.");
        }
    }

    /// Writes the log line and queues the event for the webhook without waiting.
    fn emit(&self, row: AuditRow) {
        tracing::info!(
            target: "tessera::audit",
            audit_id = %row.id,
            at = row.at,
            actor = %row.actor,
            action = %row.action,
            target_id = %row.target,
            detail = %row.detail,
            "Audit event."
        );
        if let Some(queue) = &self.queue {
            match queue.try_send(row) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(row)) => {
                    tracing::warn!(audit_id = %row.id, action = %row.action,
                        "The audit webhook queue is full; this event will not be delivered.");
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(row)) => {
                    tracing::warn!(audit_id = %row.id, action = %row.action,
                        "The audit webhook task has stopped; this event will not be delivered.");
                }
            }
        }
    }
}
