//! Where a test's database lives: a fresh SQLite file by default, or a fresh database in the
//! PostgreSQL server named by `TESSERA_TEST_POSTGRES_URL` (which the PostgreSQL pass in
//! `postgres.rs` sets when it runs this whole suite again).

use std::path::{Path, PathBuf};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

/// The administrative URL of the PostgreSQL server that every test gets a database in.
pub const POSTGRES_URL_ENV: &str = "TESSERA_TEST_POSTGRES_URL";

/// Whether this run of the suite is the PostgreSQL pass.
pub fn on_postgres() -> bool {
    std::env::var_os(POSTGRES_URL_ENV).is_some()
}

/// One test's database, dropped with it (PostgreSQL) or with its temporary folder (SQLite).
pub struct TestDatabase {
    url: String,
    kind: Kind,
}

enum Kind {
    Sqlite(PathBuf),
    Postgres { admin_url: String, name: String },
}

/// The URL of database `name` on the server of `admin_url` (same user, host and port).
fn with_database(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("a valid PostgreSQL admin URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

impl TestDatabase {
    /// A new, empty database: a file in `dir`, or a new PostgreSQL database.
    pub fn create(dir: &Path) -> Self {
        match std::env::var(POSTGRES_URL_ENV) {
            Ok(admin_url) => {
                let name = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&admin_url)
                    .unwrap_or_else(|e| panic!("connect to the test PostgreSQL server: {e}"));
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create a test database");
                Self {
                    url: with_database(&admin_url, &name),
                    kind: Kind::Postgres { admin_url, name },
                }
            }
            Err(_) => {
                let path = dir.join("t.db");
                Self {
                    url: path.display().to_string(),
                    kind: Kind::Sqlite(path),
                }
            }
        }
    }

    /// The value for `TESSERA_DATABASE_URL`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every byte the database keeps on disk: the SQLite file and its write-ahead log, or the
    /// PostgreSQL database's relation files after a checkpoint wrote everything to them.
    pub fn bytes(&self) -> Vec<u8> {
        match &self.kind {
            Kind::Sqlite(path) => {
                let mut bytes = std::fs::read(path).expect("database file");
                let mut wal = path.clone().into_os_string();
                wal.push("-wal");
                if let Ok(more) = std::fs::read(&wal) {
                    bytes.extend(more);
                }
                bytes
            }
            Kind::Postgres { .. } => {
                #[derive(QueryableByName)]
                struct Place {
                    #[diesel(sql_type = Text)]
                    data_directory: String,
                    #[diesel(sql_type = BigInt)]
                    oid: i64,
                }
                let mut conn = PgConnection::establish(&self.url).expect("connect");
                diesel::sql_query("CHECKPOINT")
                    .execute(&mut conn)
                    .expect("checkpoint");
                let place: Place = diesel::sql_query(
                    "SELECT current_setting('data_directory') AS data_directory, \
                     oid::bigint AS oid FROM pg_database WHERE datname = current_database()",
                )
                .get_result(&mut conn)
                .expect("where the database lives");
                let dir = Path::new(&place.data_directory)
                    .join("base")
                    .join(place.oid.to_string());
                let mut bytes = Vec::new();
                for entry in std::fs::read_dir(&dir).expect("the database folder") {
                    let path = entry.expect("a file entry").path();
                    if path.is_file() {
                        bytes.extend(std::fs::read(&path).expect("a relation file"));
                    }
                }
                assert!(!bytes.is_empty(), "no relation files in {}", dir.display());
                bytes
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Kind::Postgres { admin_url, name } = &self.kind
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            // The server under test may still hold connections: FORCE closes them.
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut admin);
        }
    }
}
