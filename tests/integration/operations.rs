//! Operations: Prometheus metrics, expired-row cleanup (command and background task), and the
//! real binary stopping gracefully on SIGTERM with JSON logs.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tessera::db::sessions::Session;

use crate::backend::TestDatabase;
use crate::browser::AuthRequest;
use crate::helpers::{ALICE, SERVICE, TestApp, WEB, str_field};

/// The value of the sample `name{labels}` in a Prometheus text exposition.
fn sample(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_tokens_and_failed_sign_ins() {
    let app = TestApp::spawn().await;
    let token = app
        .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(token.status, 200, "{}", token.body);
    app.tokens_for(WEB, "openid offline_access").await;
    let browser = app.browser();
    browser.authorize(&AuthRequest::for_client(WEB)).await;
    let failed = browser.sign_in(ALICE, "not the password").await;
    assert_eq!(failed.status, 401);
    app.get("/no/such/page/4711").await;

    let reply = app.get("/metrics").await;

    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/plain"),
        "{:?}",
        reply.header("content-type")
    );
    let text = &reply.body;
    let get = |s: &str| sample(text, s).unwrap_or_else(|| panic!("no `{s}` in:\n{text}"));
    assert_eq!(
        get(r#"tessera_http_requests_total{method="POST",route="/token",status="200"}"#),
        2.0
    );
    assert_eq!(
        get(r#"tessera_tokens_issued_total{grant="client_credentials"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tessera_tokens_issued_total{grant="authorization_code"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tessera_login_failures_total{reason="wrong_credentials"}"#),
        1.0
    );
    assert_eq!(
        get(r#"tessera_http_request_duration_seconds_count{route="/token"}"#),
        2.0
    );
    assert!(
        text.contains(r#"tessera_http_request_duration_seconds_bucket{route="/token",le="0.1"}"#)
    );
    assert_eq!(
        get(r#"tessera_http_requests_total{method="GET",route="unmatched",status="404"}"#),
        1.0
    );
    assert!(!text.contains("4711"), "raw paths must not become labels");
    assert_eq!(get(r#"tessera_db_pool_connections{state="max"}"#), 8.0);
    assert!(get(r#"tessera_db_pool_connections{state="idle"}"#) >= 0.0);
}

/// A session row for alice that expires at `expires_at`.
fn session(app: &TestApp, id: &str, expires_at: i64) {
    let mut conn = app.db.conn().expect("connection");
    tessera::db::sessions::insert(
        &mut conn,
        &Session {
            id_hash: format!("hash-{id}"),
            sid: format!("sid-{id}"),
            user_id: app.alice_id.clone(),
            auth_time: expires_at - 100,
            amr: "pwd".into(),
            created_at: expires_at - 100,
            expires_at,
        },
    )
    .expect("insert a session");
}

#[tokio::test]
async fn cleanup_command_deletes_only_what_expired() {
    let app = TestApp::spawn().await;
    let now = tessera::clock::now();
    for i in 0..3 {
        session(&app, &format!("old{i}"), now - 10);
    }
    session(&app, "live", now + 3600);
    {
        let mut conn = app.db.conn().expect("connection");
        tessera::db::tokens::revoke_access(&mut conn, "expired-jti", now - 1).expect("jti");
        tessera::db::tokens::revoke_access(&mut conn, "live-jti", now + 600).expect("jti");
    }
    // A code redeemed now is kept (a late replay must still revoke what it produced).
    app.tokens_for(WEB, "openid offline_access").await;

    let out = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["cleanup", "--json"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TESSERA_DATABASE_URL", app.database.url())
        .env("TESSERA_KEYS_DIR", &app.keys_dir)
        .output()
        .expect("run tessera cleanup");
    crate::audit::command(&out, None);

    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let removed: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(removed["sessions"], 3, "{removed}");
    assert_eq!(removed["revoked_access_tokens"], 1, "{removed}");
    assert_eq!(removed["auth_codes"], 0, "{removed}");
    assert_eq!(removed["refresh_tokens"], 0, "{removed}");
    // 1 live inserted + the browser session of the code flow.
    assert_eq!(app.count(crate::helpers::Table::Sessions), 2);
    assert_eq!(app.count(crate::helpers::Table::RevokedAccessTokens), 1);
    assert_eq!(app.count(crate::helpers::Table::AuthCodes), 1);
    assert_eq!(app.count(crate::helpers::Table::RefreshTokens), 1);
}

#[tokio::test]
async fn cleanup_runs_in_batches_and_ages_out_codes_and_token_families() {
    let app = TestApp::spawn().await;
    let now = tessera::clock::now();
    let n = tessera::cleanup::BATCH as usize + 7;
    for i in 0..n {
        session(&app, &format!("s{i}"), now - 1);
    }
    let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
    let mut conn = app.db.conn().expect("connection");

    let first = tessera::cleanup::run(&mut conn, now).expect("cleanup");
    let later = tessera::cleanup::run(&mut conn, now + 91 * 86_400).expect("cleanup");

    assert_eq!(
        first.sessions, n,
        "every expired session, over several batches"
    );
    assert_eq!(first.auth_codes + first.refresh_tokens, 0);
    assert_eq!(later.auth_codes, 1);
    assert_eq!(
        later.refresh_tokens, 1,
        "the family outlived its absolute lifetime"
    );
    drop(conn);
    app.refresh(app.basic(WEB), &str_field(&tokens, "refresh_token"))
        .await
        .assert_oauth_error(400, "invalid_grant", "a deleted refresh token");
}

#[tokio::test]
async fn the_background_task_deletes_expired_sessions() {
    let app = TestApp::spawn().await;
    let cleaner = app
        .another_instance(&[("TESSERA_CLEANUP_INTERVAL", "1s")])
        .await;
    session(&app, "expired", tessera::clock::now() - 5);
    let count = || cleaner.count(crate::helpers::Table::Sessions);
    assert_eq!(count(), 1);

    let deadline = Instant::now() + Duration::from_secs(10);
    while count() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    assert_eq!(count(), 0, "the expired session is still there");
}

/// `tessera serve` as a child process on a free port, with JSON logs.
struct Served {
    child: Child,
    port: u16,
    _database: TestDatabase,
    _dir: tempfile::TempDir,
}

fn serve_binary() -> (Served, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let database = TestDatabase::create(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let command = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("TESSERA_DATABASE_URL", database.url())
            .env("TESSERA_KEYS_DIR", dir.path().join("keys"))
            .env("TESSERA_BIND", format!("127.0.0.1:{port}"))
            .env("TESSERA_ISSUER", format!("http://127.0.0.1:{port}"))
            .env("TESSERA_ADMIN_PASSWORD", "admin-password-123")
            .env("TESSERA_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        cmd
    };
    let created = command(&[
        "client",
        "create",
        "--client-id",
        "svc",
        "--name",
        "Service",
        "--grant-type",
        "client_credentials",
        "--json",
    ])
    .output()
    .expect("client create");
    crate::audit::command(&created, None);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let secret: Value = serde_json::from_slice(&created.stdout).expect("JSON");
    let secret = str_field(&secret, "client_secret");
    let child = command(&["serve"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tessera serve");
    let served = Served {
        child,
        port,
        _database: database,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "tessera serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (served, secret)
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_logs_are_json() {
    use base64::Engine;
    let (mut served, secret) = serve_binary();
    let body = "grant_type=client_credentials";
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("svc:{secret}"));
    let head = format!(
        "POST /token HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAuthorization: Basic {basic}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        served.port,
        body.len()
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", served.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("send the head");
    stream
        .write_all(&body.as_bytes()[..10])
        .expect("send half the body");
    std::thread::sleep(Duration::from_millis(300));

    let pid = served.child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        served.child.try_wait().expect("status").is_none(),
        "the server exited with a request in flight"
    );
    stream
        .write_all(&body.as_bytes()[10..])
        .expect("send the rest");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read the answer");

    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"), "{answer}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let status = loop {
        if let Some(status) = served.child.try_wait().expect("status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "tessera did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "exit status {status}");
    let mut logs = String::new();
    served
        .child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut logs)
        .expect("read the logs");
    crate::audit::command_log(&logs);
    let lines: Vec<Value> = logs
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines.iter().filter_map(|l| l["message"].as_str()).collect();
    assert!(messages.contains(&"Tessera is listening."), "{messages:?}");
    assert!(messages.contains(&"Tessera stopped."), "{messages:?}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    assert!(!logs.contains(&secret), "the client secret was logged");
}

impl Drop for Served {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The frames in a SQLite database's write-ahead log and how many of them the database file
/// has taken in, from the wal-index header in the `-shm` file (SQLite's file format, "WAL-index
/// format": `mxFrame` at byte 16, `nBackfill` at byte 96, native byte order).
fn wal_frames(db_path: &str) -> (u32, u32) {
    let shm = std::fs::read(format!("{db_path}-shm")).expect("read the -shm file");
    let word = |at: usize| u32::from_ne_bytes(shm[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(96))
}

#[tokio::test]
async fn the_server_checkpoints_the_write_ahead_log_in_the_background() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: PostgreSQL has no SQLite log to checkpoint");
        return;
    }
    let app = TestApp::spawn().await;
    // Writes: a sign-in, a code, tokens.
    let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
    assert!(tokens.get("refresh_token").is_some());
    let path = app.database.url().to_string();
    let (frames, _) = wal_frames(&path);
    assert!(frames > 0, "the writes are in the log");
    // Far fewer pages than the writers' own threshold (4000): only the server's task
    // checkpoints them.
    assert!(frames < 4000, "{frames} frames");
    let mut backfilled = 0;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let (now, done) = wal_frames(&path);
        backfilled = done;
        if now > 0 && done == now {
            break;
        }
    }
    let (now, _) = wal_frames(&path);
    assert_eq!(
        backfilled, now,
        "every frame of the log is in the database file"
    );
}
