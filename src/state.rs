//! What every handler shares: configuration, database and keys.

use crate::config::Config;
use crate::crypto::keys::KeyStore;
use crate::db::Db;
use crate::metrics::Metrics;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: KeyStore,
    pub metrics: Metrics,
}
