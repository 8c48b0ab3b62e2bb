//! The argon2 executor seen from outside: with one hashing thread and room for one waiting
//! check, a storm of sign-ins gets some 503 answers with `Retry-After` and a readable page,
//! the others go through, a refused attempt changes nothing (no session, no throttle strike),
//! the token endpoint keeps answering meanwhile, and `/metrics` shows the refusals.

use diesel::prelude::*;
use tessera::db::schema::login_throttle;
use tokio::task::JoinSet;

use crate::browser::Browser;
use crate::helpers::{ALICE, ALICE_PASSWORD, Reply, SERVICE, Table, TestApp};

/// Sign-ins sent at once: far more than one thread and one queue place can take.
const STORM: usize = 24;
const BUSY: &str = "Too many people are signing in right now";

async fn one_thread_one_place() -> TestApp {
    TestApp::spawn_with_env(&[
        ("TESSERA_PASSWORD_HASHING_THREADS", "1"),
        ("TESSERA_PASSWORD_HASHING_QUEUE", "1"),
    ])
    .await
}

/// Loads every browser's login form first, then submits them all at once.
async fn storm(app: &TestApp, username: &str, password: &str) -> Vec<(Browser, Reply)> {
    let mut ready = Vec::new();
    for _ in 0..STORM {
        let browser = app.browser();
        let (_, form) = browser.login_form().await;
        ready.push((
            browser,
            form.set("username", username).set("password", password),
        ));
    }
    let mut tasks = JoinSet::new();
    for (browser, form) in ready {
        tasks.spawn(async move {
            let reply = browser.submit(&form, &[]).await;
            (browser, reply)
        });
    }
    tasks.join_all().await
}

fn assert_busy(reply: &Reply) {
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.body.contains(BUSY), "readable page: {}", reply.body);
    let retry = reply.header("retry-after").expect("Retry-After");
    assert!(
        retry.parse::<u32>().is_ok_and(|s| s > 0),
        "Retry-After {retry}"
    );
}

fn throttle_failures(app: &TestApp, key: &str) -> i32 {
    let mut conn = app.db.conn().expect("db connection");
    login_throttle::table
        .find(key)
        .select(login_throttle::failures)
        .first::<i32>(&mut *conn)
        .optional()
        .expect("throttle row")
        .unwrap_or(0)
}

#[tokio::test]
async fn a_sign_in_storm_beyond_the_queue_is_refused_while_tokens_are_granted() {
    let app = one_thread_one_place().await;

    let grants = async {
        let mut statuses = Vec::new();
        for _ in 0..8 {
            let reply = app
                .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
                .await;
            statuses.push((reply.status, reply.body));
        }
        statuses
    };
    let (replies, grants) = tokio::join!(storm(&app, ALICE, ALICE_PASSWORD), grants);

    for (status, body) in &grants {
        assert_eq!(*status, 200, "client_credentials during the storm: {body}");
    }
    let (busy, signed_in): (Vec<_>, Vec<_>) = replies.iter().partition(|(_, r)| r.status == 503);
    assert!(!busy.is_empty(), "some sign-ins are refused");
    assert!(!signed_in.is_empty(), "some sign-ins go through");
    for (_, reply) in &busy {
        assert_busy(reply);
    }
    for (browser, reply) in &signed_in {
        assert_eq!(reply.status, 303, "the others sign in: {}", reply.body);
        assert_eq!(reply.location().path(), "/");
        let home = browser.get("/").await;
        assert!(home.body.contains(ALICE), "signed in: {}", home.body);
    }
    assert_eq!(
        app.count(Table::Sessions),
        signed_in.len() as i64,
        "a refused sign-in starts no session"
    );
    for (browser, _) in &busy {
        let home = browser.get("/").await;
        assert!(
            !home.body.contains(ALICE),
            "a refused browser is not signed in"
        );
    }

    let metrics = app.get("/metrics").await;
    let refused = format!(
        "tessera_password_hashing{{state=\"refused\"}} {}",
        busy.len()
    );
    assert!(metrics.body.contains(&refused), "{}", metrics.body);
    assert!(
        metrics
            .body
            .contains("tessera_password_hashing{state=\"queue_size\"} 1"),
        "{}",
        metrics.body
    );
    assert!(
        metrics
            .body
            .contains("tessera_password_hashing{state=\"waiting\"} 0")
    );
}

#[tokio::test]
async fn a_refused_wrong_password_is_no_throttle_strike() {
    let app = one_thread_one_place().await;

    let replies = storm(&app, "mallory", "a wrong guess").await;

    let busy = replies.iter().filter(|(_, r)| r.status == 503).count();
    let failed = replies.iter().filter(|(_, r)| r.status == 401).count();
    let throttled = replies.iter().filter(|(_, r)| r.status == 429).count();
    assert_eq!(busy + failed + throttled, STORM, "only these answers");
    assert!(busy > 0, "some guesses are refused");
    for (_, reply) in replies.iter().filter(|(_, r)| r.status == 503) {
        assert_busy(reply);
    }
    assert_eq!(
        throttle_failures(&app, "ip:127.0.0.1"),
        failed as i32,
        "only the checked guesses count against the address"
    );
    assert_eq!(
        throttle_failures(&app, "account:mallory"),
        failed as i32,
        "and against the account"
    );
    assert_eq!(app.count(Table::Sessions), 0);
}

#[tokio::test]
async fn admin_api_user_creation_beyond_the_queue_gets_503_and_creates_nothing() {
    let app = one_thread_one_place().await;
    let token = crate::admin_support::service_token(&app).await;

    let mut tasks = JoinSet::new();
    for i in 0..STORM {
        let (http, url, token) = (
            app.api.clone(),
            app.url("/admin/api/v1/users"),
            token.clone(),
        );
        tasks.spawn(async move {
            let username = format!("storm{i}");
            let body = serde_json::json!({
                "username": username, "email": format!("{username}@example.com"),
            });
            let resp = http
                .post(url)
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .expect("admin API call");
            (username, Reply::read(resp).await)
        });
    }
    let replies = tasks.join_all().await;

    let mut conn = app.db.conn().expect("db connection");
    let mut refused = 0;
    for (username, reply) in &replies {
        let stored = tessera::db::users::find_by_username(&mut conn, username).expect("lookup");
        match reply.status {
            201 => assert!(stored.is_some(), "{username} was created"),
            503 => {
                refused += 1;
                crate::admin_support::assert_problem(reply, 503, username);
                assert!(reply.header("retry-after").is_some(), "Retry-After");
                assert!(stored.is_none(), "a refused {username} is not created");
            }
            other => panic!("{username}: {other} {}", reply.body),
        }
    }
    assert!(refused > 0, "some creations are refused");
    assert!(refused < STORM, "some creations go through");
}
