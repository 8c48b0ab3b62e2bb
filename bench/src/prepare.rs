//! Fresh refresh tokens for the refresh row: stored through the library's own row type and
//! hash (`tessera::db::tokens`, `tessera::crypto::random`), exactly as a code redemption with
//! `offline_access` stores them, each in a family of its own; the raw tokens go to a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, anyhow};
use tessera::crypto::random;
use tessera::db::tokens::RefreshToken;
use tessera::db::{self, DatabaseUrl, Db};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The server's database (`TESSERA_DATABASE_URL`).
    #[arg(long)]
    database_url: String,
    #[arg(long)]
    client_id: String,
    #[arg(long)]
    username: String,
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    #[arg(long, default_value = "openid profile email offline_access")]
    scope: String,
    /// Where the raw tokens go, one a line.
    #[arg(long)]
    out: PathBuf,
}

/// Rows per INSERT statement: 14 columns stay under SQLite's 32,766 bound parameters.
pub const BATCH: usize = 2_000;

/// A refresh token row as the code grant stores it, for `token`.
pub fn row(token: &str, client_id: &str, user_id: &str, scope: &str, now: i64) -> RefreshToken {
    const THIRTY_DAYS: i64 = 30 * 24 * 3600;
    RefreshToken {
        token_hash: random::hash(token),
        family_id: random::id(),
        client_id: client_id.to_string(),
        user_id: user_id.to_string(),
        scope: scope.to_string(),
        sid: random::id(),
        auth_time: now,
        amr: "pwd".into(),
        access_jti: random::id(),
        created_at: now,
        idle_expires_at: now + THIRTY_DAYS,
        family_expires_at: now + 3 * THIRTY_DAYS,
        rotated_at: None,
        revoked_at: None,
    }
}

/// Inserts `rows` in one statement.
pub fn insert_batch(conn: &mut db::Conn, rows: &[RefreshToken]) -> diesel::QueryResult<usize> {
    use diesel::RunQueryDsl;
    let insert = diesel::insert_into(db::schema::refresh_tokens::table).values(rows);
    tessera::on_backend!(conn, c => insert.execute(c))
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(&args.database_url).map_err(|e| anyhow!("--database-url {e}"))?;
    let db = Db::connect(&url)?;
    let mut conn = db.conn()?;
    let user = db::users::find_by_username(&mut conn, &args.username)?
        .ok_or_else(|| anyhow!("no user named {}", args.username))?;
    db::clients::find(&mut conn, &args.client_id)?
        .ok_or_else(|| anyhow!("no client {}", args.client_id))?;
    let now = tessera::clock::now();
    let tokens: Vec<String> = (0..args.count).map(|_| random::token()).collect();
    let rows: Vec<RefreshToken> = tokens
        .iter()
        .map(|t| row(t, &args.client_id, &user.id, &args.scope, now))
        .collect();
    db::write_transaction(&mut conn, |conn| -> diesel::QueryResult<()> {
        for chunk in rows.chunks(BATCH) {
            insert_batch(conn, chunk)?;
        }
        Ok(())
    })?;
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out)
            .with_context(|| format!("cannot write {}", args.out.display()))?,
    );
    for token in &tokens {
        writeln!(out, "{token}")?;
    }
    out.flush()?;
    Ok(())
}
