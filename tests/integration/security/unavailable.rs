//! The database made unavailable: another process holds the SQLite write lock longer than the
//! busy timeout, or PostgreSQL is stopped under a running server. Every endpoint that needs the
//! database answers 503 with `Retry-After` (a JSON `temporarily_unavailable` on protocol
//! endpoints, a page for people), /readyz says not ready while /healthz stays alive, nothing
//! changes, and the server recovers by itself once the database is back.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use crate::browser::{AuthRequest, Browser, Form};
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

/// What the tests hold before the database goes away: a signed-in browser with tokens, a code
/// not yet redeemed, and another browser with a filled-in sign-in form.
struct InHand {
    browser: Browser,
    access: String,
    refresh: String,
    req: AuthRequest,
    code: String,
    other: Browser,
    login: Form,
}

/// What the requests that must write answered while the database was away.
struct Attempts {
    refreshed: Reply,
    redeemed: Reply,
    signed_in: Reply,
    authorized: Reply,
    ready: Reply,
    health: Reply,
}

impl InHand {
    async fn prepare(app: &TestApp) -> Self {
        let (browser, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
        let req = AuthRequest::for_client(PORTAL);
        let code = browser.code_for(app, &req).await["code"].clone();
        let other = app.browser();
        let (_, login) = other.login_form().await;
        Self {
            access: str_field(&tokens, "access_token"),
            refresh: str_field(&tokens, "refresh_token"),
            browser,
            req,
            code,
            other,
            login: login.set("username", ALICE).set("password", ALICE_PASSWORD),
        }
    }

    async fn attempt(&self, app: &TestApp) -> Attempts {
        Attempts {
            refreshed: app.refresh(app.basic(PORTAL), &self.refresh).await,
            redeemed: self.redeem(app).await,
            signed_in: self.other.submit(&self.login, &[]).await,
            authorized: self
                .browser
                .authorize(&AuthRequest::for_client(PORTAL))
                .await,
            ready: app.get("/readyz").await,
            health: app.get("/healthz").await,
        }
    }

    async fn redeem(&self, app: &TestApp) -> Reply {
        app.redeem(
            app.basic(PORTAL),
            &self.code,
            &self.req.redirect_uri,
            self.req.verifier(),
        )
        .await
    }

    /// Once the database is back, without a restart: the same code and refresh token work (they
    /// were not used up while it was away), people sign in, the server is ready.
    async fn assert_recovered(&self, app: &TestApp) {
        assert_eq!(app.get("/readyz").await.status, 200, "ready again");
        let refreshed = app.refresh(app.basic(PORTAL), &self.refresh).await;
        assert_eq!(refreshed.status, 200, "refresh after: {}", refreshed.body);
        let redeemed = self.redeem(app).await;
        assert_eq!(redeemed.status, 200, "code after: {}", redeemed.body);
        let signed_in = self.other.submit(&self.login, &[]).await;
        assert_eq!(signed_in.status, 303, "sign-in after: {}", signed_in.body);
        let authorized = self
            .browser
            .authorize(&AuthRequest::for_client(PORTAL))
            .await;
        assert!(
            authorized.redirect_query().contains_key("code"),
            "authorization after"
        );
        let userinfo = app.userinfo(&self.access).await;
        assert_eq!(userinfo.status, 200, "userinfo after: {}", userinfo.body);
    }
}

impl Attempts {
    fn assert_unavailable(&self) {
        assert_unavailable(&self.refreshed, true, "refresh");
        assert_unavailable(&self.redeemed, true, "code exchange");
        assert_unavailable(&self.signed_in, false, "sign-in");
        assert_unavailable(&self.authorized, false, "authorization");
        assert_eq!(self.ready.status, 503, "not ready: {}", self.ready.body);
        assert!(
            self.ready.header("retry-after").is_some(),
            "readiness: Retry-After"
        );
        assert_eq!(self.health.status, 200, "alive: the process itself is fine");
    }
}

/// The rows a write could have added or changed.
fn counts(app: &TestApp) -> [i64; 4] {
    [
        app.count(Table::AuthCodes),
        app.count(Table::Sessions),
        app.count(Table::RefreshTokens),
        app.count(Table::RevokedAccessTokens),
    ]
}

#[tokio::test]
async fn a_locked_database_gets_503_with_retry_after_and_the_server_recovers() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: this test locks the SQLite file");
        return;
    }
    let app = TestApp::spawn_with_env(&[("TESSERA_DATABASE_BUSY_TIMEOUT", "200ms")]).await;
    let held = InHand::prepare(&app).await;
    let before = counts(&app);

    let lock = Lock::take(&app);
    let attempts = held.attempt(&app).await;
    let revoked = app.revoke(app.basic(PORTAL), &held.refresh).await;
    let userinfo = app.userinfo(&held.access).await;
    let introspected = app.is_active(PORTAL, &held.access).await;
    let after_lock = counts(&app);
    lock.release();

    attempts.assert_unavailable();
    assert_unavailable(&revoked, true, "revocation");
    assert_eq!(
        userinfo.status, 200,
        "reads keep working: {}",
        userinfo.body
    );
    assert!(introspected, "introspection reads keep working");
    assert_eq!(before, after_lock, "nothing was written while locked");
    held.assert_recovered(&app).await;
    assert!(Form::try_find(&app.get("/login").await.body, "/login").is_some());
}

/// A server on a throwaway PostgreSQL cluster of its own, which the test may stop or disturb:
/// run in the SQLite pass (the PostgreSQL pass's shared server must stay up), and skipped, saying
/// why, when no cluster can be started.
async fn on_a_cluster_of_its_own(what: &str) -> Option<(Cluster, TestApp)> {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: the SQLite pass runs it on a cluster of its own");
        return None;
    }
    let cluster = Cluster::start_or_skip(what)?;
    let url = cluster.admin_url();
    let app = TestApp::spawn_with_env(&[("TESSERA_DATABASE_URL", url.as_str())]).await;
    Some((cluster, app))
}

#[tokio::test]
async fn postgresql_stopped_under_a_running_server_gets_503_and_the_server_recovers() {
    let Some((cluster, app)) = on_a_cluster_of_its_own("the PostgreSQL outage test").await else {
        return;
    };
    let held = InHand::prepare(&app).await;
    let before = counts(&app);

    cluster.stop().expect("stop PostgreSQL");
    let attempts = held.attempt(&app).await;
    let discovery = app.get("/.well-known/openid-configuration").await;
    let jwks = app.get("/jwks").await;
    cluster.start_again().expect("start PostgreSQL again");

    attempts.assert_unavailable();
    assert_eq!(discovery.status, 200, "discovery needs no database");
    assert_eq!(jwks.status, 200, "the JWKS is served from memory");
    assert_eq!(
        before,
        counts(&app),
        "nothing was written while PostgreSQL was down"
    );
    held.assert_recovered(&app).await;
}

/// The server's pool gauges from `/metrics`, summed over `states` (`in_use`, `idle`, `max`).
async fn server_pool(app: &TestApp, states: &[&str]) -> u32 {
    let metrics = app.get("/metrics").await;
    states
        .iter()
        .map(|state| {
            let name = format!("tessera_db_pool_connections{{state=\"{state}\"}} ");
            metrics
                .body
                .lines()
                .find_map(|line| line.strip_prefix(name.as_str()))
                .and_then(|v| v.trim().parse::<u32>().ok())
                .unwrap_or_else(|| panic!("{name} in /metrics: {}", metrics.body))
        })
        .sum()
}

/// PostgreSQL ends every connection of a running server (an administrator's
/// `pg_terminate_backend`, a failover): the pool hands out a connection that answered within the
/// last half second without a `SELECT 1`, so a request on each such connection may fail, but
/// a connection whose query found it closed is dropped, never handed out again, and the
/// server goes on answering on fresh ones.
#[tokio::test]
async fn postgresql_connections_ended_under_a_running_server_fail_at_most_once_each() {
    let Some((cluster, app)) = on_a_cluster_of_its_own("the PostgreSQL connection test").await
    else {
        return;
    };
    let url = cluster.admin_url();
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    // Several requests at once, so that the pool holds several connections.
    let warm = tokio::join!(
        app.userinfo(&access),
        app.userinfo(&access),
        app.userinfo(&access),
        app.userinfo(&access)
    );
    assert_eq!(
        [warm.0.status, warm.1.status, warm.2.status, warm.3.status],
        [200; 4]
    );
    let pooled = server_pool(&app, &["in_use", "idle"]).await;
    assert!(pooled >= 2, "the pool holds {pooled} connections");
    // The pool may open more while the test runs, up to its maximum.
    let most = server_pool(&app, &["max"]).await;

    let mut admin = diesel::PgConnection::establish(&url).expect("connect as the superuser");
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'",
        )
        .expect("end the server's connections");

    let mut failed = 0;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        let reply = app.userinfo(&access).await;
        if reply.status != 200 {
            assert_eq!(reply.status, 503, "on an ended connection: {}", reply.body);
            assert!(reply.header("retry-after").is_some(), "Retry-After");
            failed += 1;
        }
        statuses.push(reply.status);
    }
    assert!(
        failed <= most as usize,
        "at most one failure per ended connection (at most {most}): {statuses:?}"
    );
    assert!(
        statuses.iter().rev().take(20).all(|s| *s == 200),
        "then every request is answered: {statuses:?}"
    );
    let refreshed = app
        .refresh(app.basic(PORTAL), &str_field(&tokens, "refresh_token"))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
}
