//! `kill -9` during a load of sign-ins, code exchanges and refreshes, then a restart on the same
//! database: the file is intact, no half-written rows, and no code or refresh token that was
//! used (or whose use was cut off by the crash) can be used twice.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::process::{ServerProcess, try_read};
use crate::browser::{AuthRequest, Browser, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, PORTAL_REDIRECT, query_of, str_field};

/// Crashes injected, and how long the load runs before each.
const CRASHES: usize = 3;
const LOAD_BEFORE_CRASH: Duration = Duration::from_millis(2500);
const WORKERS: usize = 4;

/// What the load saw, to be checked after the restart.
#[derive(Default)]
struct Ledger {
    /// Codes the server handed out: (code, verifier).
    codes: Vec<(String, String)>,
    /// Codes whose redemption was answered 200 before the crash.
    redeemed: HashSet<String>,
    /// Refresh tokens answered as rotated (a successor was received).
    rotated: Vec<String>,
    /// The newest refresh token of each family, as far as the client knows.
    latest: Vec<String>,
    sign_ins: usize,
}

/// One client's loop: sign in, get a code, redeem it, refresh a few times; until stopped.
async fn load(server: Arc<ServerProcess>, ledger: Arc<Mutex<Ledger>>, until: Instant) {
    while Instant::now() < until {
        let browser = Browser::new(&server.base);
        let Some(page) = browser.http.get(server.url("/login")).send().await.ok() else {
            return;
        };
        let Some(page) = try_read(page).await else {
            return;
        };
        let Some(form) = Form::try_find(&page.body, "/login") else {
            return;
        };
        let form = form.set("username", ALICE).set("password", ALICE_PASSWORD);
        let Ok(resp) = browser
            .http
            .post(server.url("/login"))
            .form(&form.fields)
            .send()
            .await
        else {
            return;
        };
        if try_read(resp).await.is_none_or(|r| r.status != 303) {
            return;
        }
        ledger.lock().expect("ledger").sign_ins += 1;
        let req = AuthRequest::for_client(PORTAL);
        let url = server.url(&format!("/authorize?{}", req.query()));
        let Ok(resp) = browser.http.get(url).send().await else {
            return;
        };
        let Some(reply) = try_read(resp).await else {
            return;
        };
        let Some(code) = reply
            .header("location")
            .and_then(|l| url::Url::parse(l).ok())
            .and_then(|u| query_of(&u).get("code").cloned())
        else {
            return;
        };
        let verifier = req.verifier().expect("PKCE").to_string();
        ledger
            .lock()
            .expect("ledger")
            .codes
            .push((code.clone(), verifier.clone()));
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", PORTAL_REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        let Some(reply) = server.token(PORTAL, &form).await else {
            return;
        };
        if reply.status != 200 {
            return;
        }
        let mut refresh = str_field(&reply.json(), "refresh_token");
        {
            let mut l = ledger.lock().expect("ledger");
            l.redeemed.insert(code);
            l.latest.push(refresh.clone());
        }
        for _ in 0..3 {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            let Some(reply) = server.token(PORTAL, &form).await else {
                return;
            };
            if reply.status != 200 {
                return;
            }
            let next = str_field(&reply.json(), "refresh_token");
            let mut l = ledger.lock().expect("ledger");
            l.rotated.push(refresh.clone());
            if let Some(slot) = l.latest.iter_mut().find(|t| **t == refresh) {
                *slot = next.clone();
            }
            refresh = next;
        }
    }
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The database file is intact and holds no half-written state.
fn assert_consistent(server: &ServerProcess, round: usize) {
    let mut conn = server.conn();
    let check: Vec<Line> = diesel::sql_query("PRAGMA integrity_check")
        .load(&mut conn)
        .expect("integrity_check");
    let lines: Vec<&str> = check.iter().map(|l| l.integrity_check.as_str()).collect();
    assert_eq!(lines, ["ok"], "round {round}: integrity_check");
    let count = |conn: &mut SqliteConnection, sql: &str| -> i64 {
        diesel::sql_query(sql)
            .get_result::<Count>(conn)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .n
    };
    for (what, sql) in [
        (
            "foreign keys that point nowhere",
            "SELECT COUNT(*) AS n FROM pragma_foreign_key_check",
        ),
        (
            "a consumed code that issued nothing",
            "SELECT COUNT(*) AS n FROM auth_codes WHERE consumed_at IS NOT NULL AND access_jti IS NULL",
        ),
        (
            "a code whose refresh family has no token",
            "SELECT COUNT(*) AS n FROM auth_codes c WHERE c.refresh_family IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = c.refresh_family)",
        ),
        (
            "a refresh family with two usable tokens",
            "SELECT COUNT(*) AS n FROM (SELECT family_id FROM refresh_tokens \
             WHERE rotated_at IS NULL AND revoked_at IS NULL GROUP BY family_id HAVING COUNT(*) > 1)",
        ),
        (
            "a rotated token without a successor",
            "SELECT COUNT(*) AS n FROM refresh_tokens r WHERE r.rotated_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens s WHERE s.family_id = r.family_id \
             AND s.created_at >= r.rotated_at AND s.token_hash <> r.token_hash)",
        ),
        (
            "a session of nobody",
            "SELECT COUNT(*) AS n FROM sessions WHERE user_id NOT IN (SELECT id FROM users)",
        ),
    ] {
        assert_eq!(count(&mut conn, sql), 0, "round {round}: {what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_leaves_a_consistent_database_and_no_second_use() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: the child server runs on its own SQLite file");
        return;
    }
    let _heavy = super::HEAVY.lock().await;
    let server = Arc::new(ServerProcess::start("crash").await);
    let mut totals = (0usize, 0usize, 0usize);
    for round in 1..=CRASHES {
        let ledger = Arc::new(Mutex::new(Ledger::default()));
        let until = Instant::now() + Duration::from_secs(60);
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| tokio::spawn(load(server.clone(), ledger.clone(), until)))
            .collect();
        tokio::time::sleep(LOAD_BEFORE_CRASH).await;
        server.kill9();
        for w in workers {
            w.await.expect("load worker");
        }

        assert_consistent(&server, round);
        server.spawn().await;
        let ledger = std::mem::take(&mut *ledger.lock().expect("ledger"));
        assert!(ledger.sign_ins > 0, "round {round}: the load signed in");
        assert!(
            !ledger.codes.is_empty(),
            "round {round}: the load got codes"
        );

        // A code redeemed before the crash stays used; any code succeeds at most once.
        for (code, verifier) in &ledger.codes {
            let form = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", PORTAL_REDIRECT),
                ("code_verifier", verifier.as_str()),
            ];
            let first = server.token(PORTAL, &form).await.expect("answer");
            let second = server.token(PORTAL, &form).await.expect("answer");
            if ledger.redeemed.contains(code) {
                first.assert_oauth_error(400, "invalid_grant", "a code redeemed before the crash");
            } else {
                assert!(
                    first.status == 200 || first.status == 400,
                    "round {round}: {} {}",
                    first.status,
                    first.body
                );
            }
            second.assert_oauth_error(400, "invalid_grant", "a code used again after the restart");
        }
        // The newest token of each family works at most once; rotated ones never again.
        for token in &ledger.latest {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ];
            let first = server.token(PORTAL, &form).await.expect("answer");
            assert!(
                first.status == 200 || first.error() == "invalid_grant",
                "round {round}: {} {}",
                first.status,
                first.body
            );
            let again = server.token(PORTAL, &form).await.expect("answer");
            again.assert_oauth_error(400, "invalid_grant", "the newest refresh token used twice");
        }
        for token in &ledger.rotated {
            let form = [
                ("grant_type", "refresh_token"),
                ("refresh_token", token.as_str()),
            ];
            let reply = server.token(PORTAL, &form).await.expect("answer");
            reply.assert_oauth_error(
                400,
                "invalid_grant",
                "a refresh token rotated before the crash",
            );
        }
        assert_consistent(&server, round);
        totals.0 += ledger.sign_ins;
        totals.1 += ledger.redeemed.len();
        totals.2 += ledger.rotated.len();
    }
    println!(
        "crash: {CRASHES} kill -9 under load; {} sign-ins, {} code exchanges, {} refreshes before the crashes",
        totals.0, totals.1, totals.2
    );
    assert!(
        !super::process::has_panic(&server.log()),
        "{}",
        server.log()
    );
}
