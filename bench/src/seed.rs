//! The scale run's bulk seeding: users (one precomputed argon2 hash for all), clients and
//! refresh tokens, inserted in batches inside transactions through the library's row types,
//! so every row is one the server reads as its own.

use std::time::Instant;

use anyhow::anyhow;
use diesel::RunQueryDsl;
use diesel::connection::SimpleConnection;
use tessera::crypto::{password, random};
use tessera::db::clients::ClientRow;
use tessera::db::users::User;
use tessera::db::{self, DatabaseUrl, Db, schema};

use crate::prepare::{self, BATCH};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long)]
    database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    #[arg(long, default_value_t = 100_000)]
    clients: usize,
    #[arg(long, default_value_t = 5_000_000)]
    refresh_tokens: usize,
}

/// Rows per transaction.
const PER_TRANSACTION: usize = 50_000;

/// Inserts `total` rows made by `make(i)` in batches, `PER_TRANSACTION` rows per transaction.
fn bulk<T, M, I>(
    conn: &mut db::Conn,
    what: &str,
    total: usize,
    make: M,
    insert: I,
) -> anyhow::Result<f64>
where
    M: Fn(usize) -> T,
    I: Fn(&mut db::Conn, &[T]) -> diesel::QueryResult<usize>,
{
    let started = Instant::now();
    let mut done = 0;
    while done < total {
        let end = (done + PER_TRANSACTION).min(total);
        let rows: Vec<T> = (done..end).map(&make).collect();
        db::write_transaction(conn, |conn| -> diesel::QueryResult<()> {
            for chunk in rows.chunks(BATCH) {
                insert(conn, chunk)?;
            }
            Ok(())
        })?;
        done = end;
        if done % 500_000 == 0 || done == total {
            eprintln!(
                "seed: {done} {what} in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(started.elapsed().as_secs_f64())
}

pub fn run(args: &Args) -> anyhow::Result<()> {
    let url = DatabaseUrl::parse(&args.database_url).map_err(|e| anyhow!("--database-url {e}"))?;
    let db = Db::connect(&url)?;
    db.migrate()?;
    let mut conn = db.conn()?;
    if let db::Conn::Sqlite(c) = &mut *conn {
        // A bulk load that can be redone: no fsync per transaction, and a page cache of 1 GiB
        // so the random keys of the indexes do not send every insert to the disk.
        c.batch_execute("PRAGMA synchronous = OFF; PRAGMA cache_size = -1048576")?;
    }
    let now = tessera::clock::now();
    let hash = password::hash(&random::token()).map_err(|e| anyhow!("argon2: {e}"))?;
    let secret_hash = random::hash(&random::token());
    let run = random::id();
    let user_id = |i: usize| format!("{run}u{i}");
    let client_id = |i: usize| format!("scale-{run}-{i}");

    let users_s = bulk(
        &mut conn,
        "users",
        args.users,
        |i| User {
            id: user_id(i),
            username: format!("scale-{run}-{i}"),
            email: format!("scale-{i}@example.test"),
            email_verified: false,
            name: Some(format!("Scale user {i}")),
            password_hash: hash.clone(),
            is_admin: false,
            disabled: false,
            created_at: now,
            mfa_required: false,
        },
        |conn, rows| {
            let insert = diesel::insert_into(schema::users::table).values(rows);
            tessera::on_backend!(conn, c => insert.execute(c))
        },
    )?;
    let clients_s = bulk(
        &mut conn,
        "clients",
        args.clients,
        |i| ClientRow {
            client_id: client_id(i),
            name: format!("Scale client {i}"),
            secret_hash: Some(secret_hash.clone()),
            redirect_uris: format!("https://app{i}.example.test/callback"),
            post_logout_redirect_uris: String::new(),
            grant_types: "authorization_code refresh_token client_credentials".into(),
            scopes: "openid profile email offline_access".into(),
            first_party: false,
            created_at: now,
            id_token_signed_response_alg: "RS256".into(),
        },
        |conn, rows| {
            let insert = diesel::insert_into(schema::clients::table).values(rows);
            tessera::on_backend!(conn, c => insert.execute(c))
        },
    )?;
    let (users, clients) = (args.users.max(1), args.clients.max(1));
    let tokens_s = if args.users == 0 || args.clients == 0 {
        0.0
    } else {
        bulk(
            &mut conn,
            "refresh tokens",
            args.refresh_tokens,
            |i| {
                prepare::row(
                    &random::token(),
                    &client_id(i % clients),
                    &user_id(i % users),
                    "openid profile email offline_access",
                    now,
                )
            },
            prepare::insert_batch,
        )?
    };
    println!(
        "{}",
        serde_json::json!({
            "kind": "seed",
            "users": args.users, "users_s": users_s,
            "clients": args.clients, "clients_s": clients_s,
            "refresh_tokens": args.refresh_tokens, "refresh_tokens_s": tokens_s,
        })
    );
    Ok(())
}
