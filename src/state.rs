//! What every handler shares: configuration, database and keys.

use crate::config::Config;
use crate::crypto::keys::KeyStore;
use crate::db::Db;

pub struct AppState {
    pub config: Config,
    pub db: Db,
    pub keys: KeyStore,
}
