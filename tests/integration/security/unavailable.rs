//! The database made unavailable: another process holds the SQLite write lock longer than the
//! busy timeout, or PostgreSQL is stopped under a running server. Every endpoint that needs the
//! database answers 503 with `Retry-After` (a JSON `temporarily_unavailable` on protocol
//! endpoints, a page for people), /readyz says not ready while /healthz stays alive, nothing
//! changes, and the server recovers by itself once the database is back.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::browser::{AuthRequest, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, Table, TestApp, str_field};
use crate::postgres::Cluster;

/// Asserts a 503 with `Retry-After`; `json`: a protocol endpoint's error body.
pub fn assert_unavailable(reply: &Reply, json: bool, what: &str) {
    assert_eq!(reply.status, 503, "{what}: status, body {}", reply.body);
    let retry = reply
        .header("retry-after")
        .unwrap_or_else(|| panic!("{what}: no Retry-After"));
    assert!(retry.parse::<u32>().is_ok_and(|s| s > 0), "{what}: {retry}");
    if json {
        assert_eq!(reply.error(), "temporarily_unavailable", "{what}");
    } else {
        assert!(
            reply
                .header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "{what}: a page"
        );
    }
}

/// Another process's connection holding the write lock of the database file.
pub struct Lock(SqliteConnection);

impl Lock {
    pub fn take(app: &TestApp) -> Self {
        let mut conn = SqliteConnection::establish(app.database.url()).expect("connect");
        conn.batch_execute("BEGIN EXCLUSIVE")
            .expect("take the lock");
        Self(conn)
    }

    pub fn release(mut self) {
        self.0.batch_execute("COMMIT").expect("release the lock");
    }
}

#[tokio::test]
async fn a_locked_database_gets_503_with_retry_after_and_the_server_recovers() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: this test locks the SQLite file");
        return;
    }
    let app = TestApp::spawn_with_env(&[("TESSERA_DATABASE_BUSY_TIMEOUT", "200ms")]).await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let refresh = str_field(&tokens, "refresh_token");
    let req = AuthRequest::for_client(PORTAL);
    let code = browser.code_for(&app, &req).await["code"].clone();
    let other = app.browser();
    let (_, login) = other.login_form().await;
    let login = login.set("username", ALICE).set("password", ALICE_PASSWORD);
    let before = [
        app.count(Table::AuthCodes),
        app.count(Table::Sessions),
        app.count(Table::RefreshTokens),
        app.count(Table::RevokedAccessTokens),
    ];

    let lock = Lock::take(&app);
    let refreshed = app.refresh(app.basic(PORTAL), &refresh).await;
    let redeemed = app
        .redeem(app.basic(PORTAL), &code, &req.redirect_uri, req.verifier())
        .await;
    let revoked = app.revoke(app.basic(PORTAL), &refresh).await;
    let signed_in = other.submit(&login, &[]).await;
    let authorized = browser.authorize(&AuthRequest::for_client(PORTAL)).await;
    let userinfo = app.userinfo(&access).await;
    let introspected = app.is_active(PORTAL, &access).await;
    let health = app.get("/healthz").await;
    let ready = app.get("/readyz").await;
    let after_lock = [
        app.count(Table::AuthCodes),
        app.count(Table::Sessions),
        app.count(Table::RefreshTokens),
        app.count(Table::RevokedAccessTokens),
    ];
    lock.release();

    assert_unavailable(&refreshed, true, "refresh");
    assert_unavailable(&redeemed, true, "code exchange");
    assert_unavailable(&revoked, true, "revocation");
    assert_unavailable(&signed_in, false, "sign-in");
    assert_unavailable(&authorized, false, "authorization");
    assert_eq!(
        userinfo.status, 200,
        "reads keep working: {}",
        userinfo.body
    );
    assert!(introspected, "introspection reads keep working");
    assert_eq!(health.status, 200);
    assert_eq!(ready.status, 503, "not ready while writes are locked out");
    assert!(
        ready.header("retry-after").is_some(),
        "readiness: Retry-After"
    );
    assert_eq!(before, after_lock, "nothing was written while locked");

    // Recovered by itself: the same requests now succeed, the code and token still unused.
    let refreshed = app.refresh(app.basic(PORTAL), &refresh).await;
    assert_eq!(refreshed.status, 200, "refresh after: {}", refreshed.body);
    let redeemed = app
        .redeem(app.basic(PORTAL), &code, &req.redirect_uri, req.verifier())
        .await;
    assert_eq!(redeemed.status, 200, "code after: {}", redeemed.body);
    let signed_in = other.submit(&login, &[]).await;
    assert_eq!(signed_in.status, 303, "sign-in after: {}", signed_in.body);
    let authorized = browser.authorize(&AuthRequest::for_client(PORTAL)).await;
    assert!(
        authorized.redirect_query().contains_key("code"),
        "authorization after"
    );
    assert!(Form::try_find(&app.get("/login").await.body, "/login").is_some());
    assert_eq!(app.get("/readyz").await.status, 200, "ready again");
}

#[tokio::test]
async fn postgresql_stopped_under_a_running_server_gets_503_and_the_server_recovers() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: the SQLite pass runs it on a cluster of its own");
        return;
    }
    let required = std::env::var("TESSERA_REQUIRE_POSTGRES").is_ok_and(|v| v == "1");
    let cluster = match Cluster::start() {
        Ok(c) => c,
        Err(why) if required => panic!("TESSERA_REQUIRE_POSTGRES=1 but: {why}"),
        Err(why) => {
            println!("skipped: the PostgreSQL outage test did not run: {why}");
            return;
        }
    };
    let url = cluster.admin_url();
    let app = TestApp::spawn_with_env(&[("TESSERA_DATABASE_URL", url.as_str())]).await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let refresh = str_field(&tokens, "refresh_token");
    let req = AuthRequest::for_client(PORTAL);
    let code = browser.code_for(&app, &req).await["code"].clone();
    let other = app.browser();
    let (_, login) = other.login_form().await;
    let login = login.set("username", ALICE).set("password", ALICE_PASSWORD);
    let before = [
        app.count(Table::AuthCodes),
        app.count(Table::Sessions),
        app.count(Table::RefreshTokens),
    ];

    cluster.stop().expect("stop PostgreSQL");
    let refreshed = app.refresh(app.basic(PORTAL), &refresh).await;
    let redeemed = app
        .redeem(app.basic(PORTAL), &code, &req.redirect_uri, req.verifier())
        .await;
    let signed_in = other.submit(&login, &[]).await;
    let authorized = browser.authorize(&AuthRequest::for_client(PORTAL)).await;
    let ready = app.get("/readyz").await;
    let health = app.get("/healthz").await;
    let discovery = app.get("/.well-known/openid-configuration").await;
    let jwks = app.get("/jwks").await;
    cluster.start_again().expect("start PostgreSQL again");

    assert_unavailable(&refreshed, true, "refresh");
    assert_unavailable(&redeemed, true, "code exchange");
    assert_unavailable(&signed_in, false, "sign-in");
    assert_unavailable(&authorized, false, "authorization");
    assert_eq!(ready.status, 503, "not ready: {}", ready.body);
    assert_eq!(health.status, 200, "alive: the process itself is fine");
    assert_eq!(discovery.status, 200, "discovery needs no database");
    assert_eq!(jwks.status, 200, "the JWKS is served from memory");
    assert_eq!(
        before,
        [
            app.count(Table::AuthCodes),
            app.count(Table::Sessions),
            app.count(Table::RefreshTokens),
        ],
        "nothing was written while PostgreSQL was down"
    );

    // Recovered by itself, without a restart: the same code and token still work, once.
    assert_eq!(app.get("/readyz").await.status, 200, "ready again");
    let refreshed = app.refresh(app.basic(PORTAL), &refresh).await;
    assert_eq!(refreshed.status, 200, "refresh after: {}", refreshed.body);
    let redeemed = app
        .redeem(app.basic(PORTAL), &code, &req.redirect_uri, req.verifier())
        .await;
    assert_eq!(redeemed.status, 200, "code after: {}", redeemed.body);
    let signed_in = other.submit(&login, &[]).await;
    assert_eq!(signed_in.status, 303, "sign-in after: {}", signed_in.body);
    let userinfo = app.userinfo(&access).await;
    assert_eq!(userinfo.status, 200, "userinfo after: {}", userinfo.body);
}
