//! How the pool opens, checks and drops connections.
//!
//! A SQLite connection is a file handle that cannot go away, so it is never checked. A
//! PostgreSQL connection can die with its server; checking it with a `SELECT 1` at every
//! checkout would double the round trips of a one-query request. So, as HikariCP does (its
//! `aliveBypassWindowMs`), a connection that had an answer from the server within
//! [`ALIVE_WINDOW`] is handed out unchecked, one idle for longer is pinged first, and one whose
//! query found the connection closed is dropped when it comes back to the pool.

use std::time::{Duration, Instant};

use diesel::connection::{Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, ManageConnection};

use super::Conn;

/// How recent a PostgreSQL connection's last answer must be for it to skip the check.
pub const ALIVE_WINDOW: Duration = Duration::from_millis(500);

/// The pool's connection manager: diesel's, with the checks above.
pub struct Manager(ConnectionManager<Conn>);

impl Manager {
    pub fn new(target: String) -> Self {
        Self(ConnectionManager::new(target))
    }
}

impl ManageConnection for Manager {
    type Connection = Conn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<Conn, Self::Error> {
        self.0.connect()
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), Self::Error> {
        match Health::of(conn) {
            // (A closed one never comes back: `has_broken` drops it.)
            Some(health) if !health.closed && health.last_answer.elapsed() < ALIVE_WINDOW => Ok(()),
            // The ping's answer, if any, renews the window.
            _ => self.0.is_valid(conn),
        }
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        self.0.has_broken(conn) || Health::of(conn).is_some_and(|health| health.closed)
    }
}

/// What a PostgreSQL connection's queries found: when the server last answered, and whether a
/// query found the connection closed. Kept in the connection as its diesel instrumentation.
#[derive(Debug)]
pub struct Health {
    last_answer: Instant,
    closed: bool,
}

impl Health {
    fn of(conn: &mut Conn) -> Option<&Health> {
        match conn {
            Conn::Pg(c) => diesel::Connection::instrumentation(c).downcast_ref::<Health>(),
            Conn::Sqlite(_) => None,
        }
    }
}

impl Instrumentation for Health {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error, .. } = event {
            match error {
                // The connection went away, or the server ended it ("terminating connection
                // due to administrator command" arrives as an answer, before the socket
                // closes).
                Some(e) if super::is_unavailable(e) => self.closed = true,
                // An answer, even an error, shows the server is there.
                _ => self.last_answer = Instant::now(),
            }
        }
    }
}

/// Prepares each new connection: SQLite's pragmas (the write-ahead log checkpointed by its
/// writers only past 4000 pages: a server checkpoints it in the background,
/// `db::spawn_checkpoints`), and PostgreSQL's [`Health`].
#[derive(Debug)]
pub struct OnConnect {
    pub busy_timeout_ms: u128,
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for OnConnect {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        match conn {
            Conn::Sqlite(c) => c
                .batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
                     PRAGMA wal_autocheckpoint = 4000;",
                    self.busy_timeout_ms
                ))
                .map_err(diesel::r2d2::Error::QueryError),
            Conn::Pg(c) => {
                diesel::Connection::set_instrumentation(
                    c,
                    Health {
                        last_answer: Instant::now(),
                        closed: false,
                    },
                );
                Ok(())
            }
        }
    }
}
