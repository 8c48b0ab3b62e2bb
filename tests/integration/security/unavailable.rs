//! The database made unavailable: another process holds the SQLite write lock longer than the
//! busy timeout. Every endpoint that must write answers 503 with `Retry-After` (a JSON
//! `temporarily_unavailable` on protocol endpoints, a page for people), reads keep working,
//! nothing changes, and the server recovers by itself once the lock is released.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::browser::{AuthRequest, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, Table, TestApp, str_field};

/// Asserts a 503 with `Retry-After`; `json`: a protocol endpoint's error body.
fn assert_unavailable(reply: &Reply, json: bool, what: &str) {
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
}
