//! What every handler shares: configuration, database, keys and the audit log.

use crate::audit::{Actor, Auditor, event};
use crate::config::Config;
use crate::crypto::keys::KeyStore;
use crate::db::Db;
use crate::metrics::Metrics;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: KeyStore,
    pub audit: Auditor,
    pub metrics: Metrics,
}

impl AppState {
    /// Records an audit event for a handler: the row, the log line and the webhook delivery.
    pub async fn record_event(
        &self,
        now: i64,
        actor: &Actor,
        action: &str,
        target: &str,
        detail: &str,
    ) {
        self.audit
            .record_async(&self.db, event(now, actor, action, target, detail))
            .await;
    }
}
