//! What every handler shares: configuration, database, keys, the audit log and the argon2
//! executor.

use crate::audit::{Actor, Auditor, event};
use crate::config::Config;
use crate::crypto::keys::KeyStore;
use crate::db::Db;
use crate::hashing::Hashing;
use crate::metrics::Metrics;
use crate::oidc::published::Published;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: KeyStore,
    pub audit: Auditor,
    pub metrics: Metrics,
    /// The argon2 executor every password hash and check goes through.
    pub hashing: Hashing,
    /// Discovery and JWKS, serialised once per key set.
    pub published: Published,
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
