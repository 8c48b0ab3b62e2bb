//! How a server writes: every SQLite write transaction on one writer connection, taking turns
//! on it; PostgreSQL's transactions on the pooled connection they were called with.

use std::cell::RefCell;
use std::sync::{Arc, Mutex};

use diesel::Connection;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::r2d2::{CustomizeConnection, ManageConnection};

use super::Conn;
use super::pool::{Manager, OnConnect};

/// Runs `f` in a transaction that writes: `BEGIN IMMEDIATE` on SQLite (so two writers queue on
/// the busy timeout instead of failing to upgrade a read lock), a plain `BEGIN` (read committed)
/// on PostgreSQL. Commits when `f` answers `Ok`, rolls back otherwise.
///
/// Under read committed every statement sees what other transactions committed before it, and
/// an `UPDATE … WHERE` that waited for a row lock re-checks its condition: the conditional
/// updates in `codes::consume` and `tokens::rotate_into` are what decide a race on both backends.
///
/// Inside [`Db::run`] on SQLite, `conn` is set aside and the transaction runs on the process's
/// one writer connection ([`Writer`]): the server's writers take turns on it without sleeping
/// in SQLite's busy handler (which sleeps 1, 2, 5, 10… ms between tries), the busy timeout is
/// left to other processes, and the writer's page cache stays valid from one write to the next.
///
/// [`Db::run`]: super::Db::run
pub fn write_transaction<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let writer = match conn {
        Conn::Sqlite(_) => WRITER.with(|writer| writer.borrow().clone()),
        Conn::Pg(_) => None,
    };
    match writer {
        Some(writer) => writer.with(|conn| in_write_transaction(conn, f)),
        None => in_write_transaction(conn, f),
    }
}

/// Runs a use case whose writes each decide their own race (a conditional update, or one
/// statement that writes several rows, such as [`tokens::rotate_into`]): in a
/// [`write_transaction`] on SQLite, where the writer's turn is needed anyway; statement by
/// statement on PostgreSQL, each committing on its own, which spares the round trips of
/// `BEGIN` and `COMMIT`. Writes in `f` that must land together go inside `conn.transaction`
/// (a savepoint on SQLite).
///
/// [`tokens::rotate_into`]: super::tokens::rotate_into
pub fn conditional_writes<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        Conn::Pg(_) => f(conn),
        Conn::Sqlite(_) => write_transaction(conn, f),
    }
}

fn in_write_transaction<T, E, F>(conn: &mut Conn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut Conn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        Conn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?,
        Conn::Pg(c) => AnsiTransactionManager::begin_transaction(c)?,
    }
    match f(&mut *conn) {
        Ok(value) => {
            <Conn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match <Conn as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(error),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// The one connection a server's SQLite write transactions run on, opened when first needed.
///
/// Holding its lock is a writer's turn. SQLite lets one writer in at a time anyway, and a
/// connection's page cache is emptied whenever another connection has written since its last
/// transaction: with every write on this connection, each write transaction finds the pages
/// of the one before it in the cache instead of reading them again from the log.
pub struct Writer {
    manager: Manager,
    on_connect: OnConnect,
    conn: Mutex<Option<Conn>>,
}

impl Writer {
    /// A writer whose connection `manager` opens and `on_connect` prepares, when first needed.
    pub fn new(manager: Manager, on_connect: OnConnect) -> Self {
        Self {
            manager,
            on_connect,
            conn: Mutex::new(None),
        }
    }

    /// Runs `f` on the writer connection, waiting for the turn; a connection left broken or
    /// inside a transaction (by a failed rollback, or a panic in `f`) is closed afterwards.
    fn with<T, E>(&self, f: impl FnOnce(&mut Conn) -> Result<T, E>) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        let mut slot = self.conn.lock().unwrap_or_else(|poisoned| {
            self.conn.clear_poison();
            let mut slot = poisoned.into_inner();
            *slot = None;
            slot
        });
        let conn = match slot.take() {
            Some(conn) => conn,
            None => {
                let mut conn = self.manager.connect().map_err(writer_unavailable)?;
                self.on_connect
                    .on_acquire(&mut conn)
                    .map_err(writer_unavailable)?;
                conn
            }
        };
        let conn = slot.insert(conn);
        let answer = f(conn);
        if self.manager.has_broken(conn) {
            *slot = None;
        }
        answer
    }
}

/// A writer connection that could not be opened: answered 503 like an unreachable database.
fn writer_unavailable(e: diesel::r2d2::Error) -> diesel::result::Error {
    diesel::result::Error::DatabaseError(
        diesel::result::DatabaseErrorKind::UnableToSendCommand,
        Box::new(format!("cannot open the writer connection: {e}")),
    )
}

thread_local! {
    /// The writer of the database whose `Db::run` is running on this thread.
    static WRITER: RefCell<Option<Arc<Writer>>> = const { RefCell::new(None) };
}

/// Sets [`WRITER`] for the closure of one `Db::run`, and clears it after, panic or not.
pub struct WriterSet;

impl WriterSet {
    pub fn set(writer: Option<Arc<Writer>>) -> Self {
        WRITER.with(|w| *w.borrow_mut() = writer);
        Self
    }
}

impl Drop for WriterSet {
    fn drop(&mut self) {
        WRITER.with(|w| w.borrow_mut().take());
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use diesel::RunQueryDsl;
    use diesel::connection::SimpleConnection;

    use super::*;
    use crate::db::{DEFAULT_BUSY_TIMEOUT, DatabaseUrl, Db, DbError, POOL_SIZE};

    /// With no busy timeout at all, SQLite would refuse every writer that finds another one
    /// in its transaction ("database is locked"): the server's writers take turns instead.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_servers_writers_take_turns_without_sqlites_busy_handler() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("turns.db").display().to_string();
        let db = Db::connect_with(&DatabaseUrl::Sqlite(path), Duration::ZERO).expect("open");
        db.run(|conn| {
            conn.batch_execute("CREATE TABLE turns (n INTEGER NOT NULL)")
                .map_err(DbError::from)
        })
        .await
        .expect("create");
        let writers: Vec<_> = (0..16)
            .map(|n| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.run(move |conn| {
                        write_transaction(conn, |conn| -> Result<(), DbError> {
                            conn.batch_execute(&format!("INSERT INTO turns (n) VALUES ({n})"))?;
                            // Long enough for the others to find the database locked.
                            std::thread::sleep(Duration::from_millis(5));
                            Ok(())
                        })
                    })
                    .await
                })
            })
            .collect();
        for writer in writers {
            writer.await.expect("joined").expect("every writer commits");
        }
        let count: i64 = db
            .run(|conn| {
                diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                    "(SELECT COUNT(*) FROM turns)",
                ))
                .get_result(conn)
                .map_err(DbError::from)
            })
            .await
            .expect("count");
        assert_eq!(count, 16);
    }

    /// A server's write transactions all run on one connection, whichever pooled connection
    /// and thread their call took: a temporary table (which only the connection that made it
    /// can see) made in one is there in every later one. A write that panics leaves the
    /// writer usable; the connection it was on is replaced.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_servers_write_transactions_share_one_connection_and_survive_a_panic() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let path = dir.path().join("writer.db").display().to_string();
        let db = Db::connect_with(&DatabaseUrl::Sqlite(path), DEFAULT_BUSY_TIMEOUT).expect("open");
        let write = |sql: &'static str| {
            let db = db.clone();
            async move {
                db.run(move |conn| {
                    write_transaction(conn, |conn| -> Result<(), DbError> {
                        conn.batch_execute(sql)?;
                        Ok(())
                    })
                })
                .await
            }
        };
        write("CREATE TEMP TABLE seen (n INTEGER NOT NULL)")
            .await
            .expect("create");
        // More calls at once than the pool has connections, so that several are used.
        let writers: Vec<_> = (0..2 * POOL_SIZE)
            .map(|_| tokio::spawn(write("INSERT INTO temp.seen (n) VALUES (1)")))
            .collect();
        for writer in writers {
            writer
                .await
                .expect("joined")
                .expect("every write finds the temporary table");
        }
        let (connections, _) = db.pool_state();
        assert!(
            connections > 1,
            "the calls used {connections} pooled connection(s)"
        );

        let panicked = db
            .run(|conn| {
                write_transaction(conn, |conn| -> Result<(), DbError> {
                    conn.batch_execute("INSERT INTO temp.seen (n) VALUES (2)")?;
                    panic!("a write that panics inside its transaction");
                })
            })
            .await;
        assert!(matches!(panicked, Err(DbError::Blocking)));
        // The next writer gets a fresh connection: not inside the panicked transaction, and
        // without the old connection's temporary table.
        write("CREATE TEMP TABLE seen (n INTEGER NOT NULL)")
            .await
            .expect("a fresh writer connection");
        write("INSERT INTO temp.seen (n) VALUES (3)")
            .await
            .expect("the writer works after the panic");
    }
}
