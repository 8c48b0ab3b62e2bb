//! Storage: the connection pool, embedded migrations, and one module per aggregate.
//!
//! Every query runs off the async workers through [`Db::run`], which takes a pooled
//! connection inside the blocking closure; a server's SQLite write transactions run on its one
//! writer connection instead ([`write_transaction`]).
//!
//! Lookups of one row by its key use `get_result`, not `first`: `first` binds `LIMIT ?`, and
//! SQLite marks a statement whose LIMIT is a bound parameter to be prepared again each time it
//! is bound, so every lookup would parse and plan its query anew (a third of the CPU of an
//! introspection request, measured with callgrind).
//!
//! The queries of the token endpoints' hot paths (clients, people, refresh tokens, roles, the
//! revocation check) run on the backend's own connection through [`on_backend!`]: a query
//! run on [`Conn`] itself has its SQL written out again on every execution (twice: diesel's
//! `MultiConnection` serializes the query inside each pass over it, even when the prepared
//! statement is cached), which cost 8 % of an introspection's instructions and 18 % of an
//! ES256 refresh's.

pub mod admin;
pub mod audit;
pub mod clients;
pub mod codes;
pub mod consents;
pub mod expired;
pub mod keys;
pub mod mfa;
pub mod pool;
pub mod roles;
pub mod schema;
pub mod search;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod users;
mod writes;

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, MultiConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// A connection to the configured backend: PostgreSQL or SQLite, picked by the URL.
///
/// Queries are written once in diesel's DSL against this type. The few statements the common
/// subset lacks (upserts), and the hot paths' queries, run on the inner connection through
/// [`on_backend!`].
#[derive(MultiConnection)]
pub enum Conn {
    Pg(PgConnection),
    /// Last: SQLite accepts any string as a path.
    Sqlite(SqliteConnection),
}

use pool::{Manager, OnConnect};
use writes::{Writer, WriterSet};
pub use writes::{conditional_writes, write_transaction};

/// Connections per process; PostgreSQL needs `max_connections` above this times the instances.
const POOL_SIZE: u32 = 8;
/// How long a request waits for a connection before it is answered 503: while PostgreSQL is
/// down the pool keeps trying to reconnect, and a request should not hang for long meanwhile.
const POOL_WAIT: Duration = Duration::from_secs(3);

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgresql");
/// The PostgreSQL advisory lock held while migrating ("tessera" in ASCII).
const MIGRATION_LOCK: i64 = 0x0074_6573_7365_7261;

/// Runs `$body` with `$inner` bound to the backend's own connection: for statements outside
/// the common subset of both backends (e.g. `on_conflict`), and for hot queries, whose cached
/// prepared statements are then found without writing out their SQL. Both arms compile the
/// same code.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, $inner:ident => $body:expr) => {
        match $conn {
            $crate::db::Conn::Pg($inner) => $body,
            $crate::db::Conn::Sqlite($inner) => $body,
        }
    };
}
pub use on_backend;

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
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(String),
    /// A `postgres://` or `postgresql://` URL, kept whole for libpq.
    Postgres(String),
}

impl std::fmt::Debug for DatabaseUrl {
    /// Never prints a PostgreSQL password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.redacted()).finish(),
        }
    }
}

impl DatabaseUrl {
    /// Picks the backend from the URL's scheme: `sqlite://path`, a bare path, or `postgres://`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("must not be empty".into());
        }
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            let url =
                url::Url::parse(raw).map_err(|e| format!("is not a valid PostgreSQL URL ({e})"))?;
            if url.path().trim_start_matches('/').is_empty() {
                return Err(
                    "the PostgreSQL URL names no database, e.g. postgres://user@host/tessera"
                        .into(),
                );
            }
            return Ok(Self::Postgres(raw.to_string()));
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

    /// The URL without its password, for messages and logs.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(path) => path.clone(),
            Self::Postgres(raw) => match url::Url::parse(raw) {
                Ok(mut url) => {
                    if url.password().is_some() {
                        let _ = url.set_password(Some("***"));
                    }
                    url.to_string()
                }
                Err(_) => "postgres://…".into(),
            },
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }
}

/// How long a query waits for another connection's lock unless configured otherwise.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// What SQLite and libpq say when the database is locked, shutting down or unreachable (the
/// connection ended under a query, e.g. PostgreSQL stopped or restarted).
const UNAVAILABLE_MESSAGES: [&str; 8] = [
    "database is locked",
    "database table is locked",
    "database is busy",
    "terminating connection",
    "server closed the connection",
    "no connection to the server",
    "could not connect to server",
    "the database system is shutting down",
];

impl DbError {
    /// Whether the database could not be reached or stayed locked by another connection past
    /// the busy timeout: a temporary condition, answered 503 with `Retry-After`.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Blocking => true,
            Self::Query(e) => is_unavailable(e),
            _ => false,
        }
    }
}

/// Whether a query failed because the database is locked past the busy timeout, unreachable,
/// or ended the connection (rather than because of the query).
fn is_unavailable(e: &diesel::result::Error) -> bool {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection
            | diesel::result::DatabaseErrorKind::UnableToSendCommand,
            _,
        ) => true,
        diesel::result::Error::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            UNAVAILABLE_MESSAGES.iter().any(|m| message.contains(m))
        }
        _ => false,
    }
}

/// A cloneable handle on the connection pool.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    postgres: bool,
    /// The connection this process's SQLite write transactions run on (see
    /// [`write_transaction`]); none on PostgreSQL, or for an in-memory SQLite database.
    writer: Option<Arc<Writer>>,
}

impl Db {
    /// Opens the pool, creating the SQLite file (and its folder) when missing. A PostgreSQL
    /// server is reached once first, so that a wrong URL or password gives libpq's own message.
    pub fn connect(url: &DatabaseUrl) -> Result<Self, DbError> {
        Self::connect_with(url, DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`Db::connect`], with SQLite queries waiting at most `busy_timeout` for a lock.
    pub fn connect_with(url: &DatabaseUrl, busy_timeout: Duration) -> Result<Self, DbError> {
        let target = match url {
            DatabaseUrl::Sqlite(path) => {
                if path != ":memory:"
                    && let Some(parent) = std::path::Path::new(path).parent()
                    && !parent.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(parent).map_err(|e| {
                        DbError::Url(format!("cannot create {}: {e}", parent.display()))
                    })?;
                }
                path.clone()
            }
            DatabaseUrl::Postgres(raw) => {
                PgConnection::establish(raw).map_err(|e| {
                    DbError::Url(format!(
                        "cannot connect to {}: {}",
                        url.redacted(),
                        e.to_string()
                            .split_whitespace()
                            .collect::<Vec<_>>()
                            .join(" ")
                    ))
                })?;
                raw.clone()
            }
        };
        let on_connect = || OnConnect {
            busy_timeout_ms: busy_timeout.as_millis(),
        };
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(1))
            .connection_timeout(POOL_WAIT)
            // Which connections are checked, and how: see `pool`.
            .test_on_check_out(url.is_postgres())
            .connection_customizer(Box::new(on_connect()))
            .build(Manager::new(target))?;
        let writer = match url {
            DatabaseUrl::Sqlite(path) if path != ":memory:" => Some(Arc::new(Writer::new(
                Manager::new(path.clone()),
                on_connect(),
            ))),
            _ => None,
        };
        Ok(Self {
            pool,
            postgres: url.is_postgres(),
            writer,
        })
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        self.postgres
    }

    /// How many connections the pool holds now and how many of them are idle.
    pub fn pool_state(&self) -> (u32, u32) {
        let state = self.pool.state();
        (state.connections, state.idle_connections)
    }

    /// How many threads of each async worker's blocking pool may run database calls at once.
    /// SQLite's statements are CPU-bound and its writes serialise, so two per worker keep the
    /// cores busy; more only wait, each with its own allocator arena and page cache warm. A
    /// PostgreSQL call mostly waits for the server, so there every connection may be in use.
    pub fn blocking_threads_per_worker(&self, workers: usize) -> usize {
        if self.postgres {
            (POOL_SIZE as usize).div_ceil(workers.max(1)).max(2)
        } else {
            2
        }
    }

    /// The most connections the pool opens.
    pub fn pool_max(&self) -> u32 {
        self.pool.max_size()
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, DbError> {
        let mut conn = self.pool.get()?;
        let applied = match &mut *conn {
            Conn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
            Conn::Pg(c) => {
                // Instances starting together on one database migrate one after the other.
                diesel::sql_query("SELECT pg_advisory_lock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                    .execute(c)?;
                let applied = c
                    .run_pending_migrations(POSTGRES_MIGRATIONS)
                    .map(|v| v.len());
                diesel::sql_query("SELECT pg_advisory_unlock($1)")
                    .bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK)
                    .execute(c)?;
                applied
            }
        };
        applied.map_err(|e| DbError::Migration(e.to_string()))
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
        let writer = self.writer.clone();
        run_blocking(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            let _writer = WriterSet::set(writer);
            f(&mut conn)
        })
        .await
        .map_err(E::from)?
    }
}

/// How often a server copies SQLite's write-ahead log into the database file.
pub const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// Checkpoints SQLite's write-ahead log every [`CHECKPOINT_EVERY`] for as long as the server
/// runs (nothing on PostgreSQL).
///
/// Without it, the writer whose commit takes the log past its threshold copies the log into
/// the database file and syncs both, inside its write transaction's turn, while every other
/// writer waits; with a large database and the kernel's writeback behind, that sync took up to
/// a second. A passive checkpoint here waits for no reader or writer, and runs on the main
/// runtime's blocking threads rather than the workers'. The connections' own threshold stays
/// as a backstop, raised to 4000 pages (16 MiB; `pool::OnConnect`), for the CLI and for a
/// checkpoint that falls behind.
pub fn spawn_checkpoints(db: Db) {
    if db.is_postgres() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let checkpointed = db
                .run(|conn| {
                    conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE)")
                        .map_err(DbError::from)
                })
                .await;
            if let Err(e) = checkpointed {
                // The next tick tries again, and the writers' own threshold stands behind it.
                tracing::debug!(error = %e, "A checkpoint of the write-ahead log failed.");
            }
        }
    });
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
        assert_eq!(
            DatabaseUrl::parse("postgres://u:pw@h/db"),
            Ok(DatabaseUrl::Postgres("postgres://u:pw@h/db".into()))
        );
        assert!(DatabaseUrl::parse("postgresql://u@h:5432/t").is_ok());
        assert!(DatabaseUrl::parse("postgres://u@h").is_err());
        assert!(DatabaseUrl::parse("postgres://u@h:notaport/db").is_err());
    }

    #[test]
    fn postgres_password_never_prints() {
        let url = DatabaseUrl::parse("postgres://tessera:s3cret@db:5432/tessera").expect("url");
        assert!(!url.redacted().contains("s3cret"));
        assert!(!format!("{url:?}").contains("s3cret"));
        assert!(url.redacted().contains("db:5432/tessera"));
    }

    #[derive(diesel::QueryableByName)]
    struct PlanStep {
        #[diesel(sql_type = diesel::sql_types::Text)]
        detail: String,
    }

    /// The statements that find a person's or a client's refresh tokens and consents (in
    /// `admin::revoke_user_refresh_tokens`, `admin::delete_client`, `tokens::live_families`, and
    /// the foreign keys' cascades) search an index: at a few million tokens a scan would hold
    /// SQLite's write lock, and so every sign-in and refresh, for seconds.
    #[test]
    fn lookups_of_a_persons_or_a_clients_tokens_and_consents_search_an_index() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("plans.db").display().to_string();
        let db = Db::connect_with(&DatabaseUrl::Sqlite(path), DEFAULT_BUSY_TIMEOUT).expect("open");
        db.migrate().expect("migrate");
        let mut conn = db.conn().expect("a connection");
        for sql in [
            "SELECT access_jti FROM refresh_tokens \
             WHERE user_id = ? AND revoked_at IS NULL AND rotated_at IS NULL",
            "SELECT DISTINCT family_id FROM refresh_tokens \
             WHERE user_id = ? AND client_id = ? AND revoked_at IS NULL",
            "DELETE FROM refresh_tokens WHERE client_id = ?",
            "DELETE FROM refresh_tokens WHERE user_id = ?",
            "DELETE FROM consents WHERE client_id = ?",
            "DELETE FROM consents WHERE user_id = ?",
        ] {
            let plan: Vec<PlanStep> = diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
                .load(&mut *conn)
                .expect("a query plan");
            let plan: Vec<&str> = plan.iter().map(|step| step.detail.as_str()).collect();
            assert!(
                !plan.iter().any(|step| step.starts_with("SCAN "))
                    && plan
                        .iter()
                        .any(|step| step.starts_with("SEARCH ") && step.contains("INDEX")),
                "{sql}: {plan:?}"
            );
        }
    }
}
