//! What every handler shares: configuration, database, keys and the audit log.

use crate::audit::Auditor;
use crate::config::Config;
use crate::crypto::keys::KeyStore;
use crate::db::Db;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: KeyStore,
    pub audit: Auditor,
}
