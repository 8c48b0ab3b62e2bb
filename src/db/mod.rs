//! Storage: the connection pool, embedded migrations, and one module per aggregate.
//!
//! Every query runs off the async workers through [`Db::run`], which takes a pooled
//! connection inside the blocking closure.

pub mod admin;
pub mod audit;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod keys;
pub mod roles;
pub mod schema;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// The connection type of the configured backend.
pub type Conn = SqliteConnection;
type Manager = ConnectionManager<Conn>;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// What can go wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database query failed")]
    Query(#[from] diesel::result::Error),
    #[error("no database connection available")]
    Pool(#[from] diesel::r2d2::PoolError),
    #[error("database task was cancelled")]
    Blocking,
    #[error("database migration failed: {0}")]
    Migration(String),
    #[error("{0}")]
    Url(String),
}

/// Where the database lives, parsed from `TESSERA_DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
}

impl DatabaseUrl {
    /// Picks the backend from the URL's scheme: `sqlite://path`, a bare path, or `postgres://`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Err(
                "PostgreSQL URLs are not supported by this build yet; use a SQLite path".into(),
            );
        }
        let path = raw
            .strip_prefix("sqlite://")
            .or_else(|| raw.strip_prefix("sqlite:"))
            .unwrap_or(raw);
        if path.is_empty() {
            return Err("the SQLite path is empty".into());
        }
        Ok(Self::Sqlite(path.to_string()))
    }
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<Conn, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; \
             PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
}

impl Db {
    /// Opens the pool, creating the SQLite file (and its folder) when missing.
    pub fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        let DatabaseUrl::Sqlite(path) = url;
        if path != ":memory:"
            && let Some(parent) = std::path::Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            std::fs::create_dir_all(parent)
                .map_err(|e| DbError::Url(format!("cannot create {}: {e}", parent.display())))?;
        }
        let pool = Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(Manager::new(path.clone()))?;
        Ok(Self { pool })
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let applied = conn
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(applied.len())
    }

    /// A connection for synchronous callers (CLI, start-up).
    pub fn conn(&self) -> Result<PooledConnection<Manager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a pooled connection on the blocking thread pool, keeping the tracing span.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(E::from)?
    }
}

/// The one way off the async workers: runs `f` on the blocking pool inside the caller's span.
pub async fn run_blocking<T, F>(f: F) -> Result<T, DbError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let span = tracing::Span::current();
    actix_web::rt::task::spawn_blocking(move || span.in_scope(f))
        .await
        .map_err(|_| DbError::Blocking)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_url_picks_sqlite_for_paths_and_scheme() {
        assert_eq!(
            DatabaseUrl::parse("data/t.db"),
            Ok(DatabaseUrl::Sqlite("data/t.db".into()))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db"),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("postgres://u@h/db").is_err());
    }
}
