//! Brute force (SECURITY.md "People and sessions"): failed sign-ins are throttled per account
//! and per client address with growing delays, and the answer never says which of the two.

use crate::helpers::{ALICE, ALICE_PASSWORD, Table, TestApp};

const FAILED: &str = "Incorrect username or password.";
const THROTTLED: &str = "Too many failed sign-in attempts";
/// Free failures per account and per address (src/web/login.rs).
const FREE_ACCOUNT: usize = 5;
const FREE_IP: usize = 20;

fn assert_failed(reply: &crate::helpers::Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    assert!(reply.body.contains(FAILED), "{what}: generic message");
}

fn assert_throttled(reply: &crate::helpers::Reply, what: &str) {
    assert_eq!(reply.status, 429, "{what}: {}", reply.body);
    assert!(reply.body.contains(THROTTLED), "{what}: throttle message");
    assert!(reply.header("retry-after").is_some(), "{what}: Retry-After");
    let lower = reply.body.to_lowercase();
    assert!(
        !lower.contains("account") && !lower.contains("address"),
        "{what}: the answer must not say what was throttled"
    );
}

#[tokio::test]
async fn an_account_is_blocked_after_repeated_failures_even_with_the_right_password() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for i in 0..=FREE_ACCOUNT {
        assert_failed(
            &browser.sign_in(ALICE, "wrong password").await,
            &format!("failure {i}"),
        );
    }

    let reply = browser.sign_in(ALICE, ALICE_PASSWORD).await;

    assert_throttled(&reply, "right password while blocked");
    assert_eq!(app.count(Table::Sessions), 0, "no session was created");
}

#[tokio::test]
async fn unknown_usernames_are_throttled_like_real_ones() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for i in 0..=FREE_ACCOUNT {
        assert_failed(
            &browser.sign_in("mallory", "guess").await,
            &format!("failure {i}"),
        );
    }

    assert_throttled(&browser.sign_in("mallory", "guess").await, "unknown user");
}

#[tokio::test]
async fn one_address_guessing_many_accounts_is_blocked() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for i in 0..=FREE_IP {
        let reply = browser.sign_in(&format!("user{i}"), "guess").await;
        assert_failed(&reply, &format!("failure {i}"));
    }

    let reply = browser.sign_in(ALICE, ALICE_PASSWORD).await;

    assert_throttled(&reply, "another account from the same address");
    assert_eq!(app.count(Table::Sessions), 0, "no session was created");
}

#[tokio::test]
async fn a_successful_sign_in_clears_the_account_failures() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    for _ in 0..FREE_ACCOUNT {
        assert_failed(&browser.sign_in(ALICE, "wrong").await, "before");
    }
    assert_eq!(browser.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);

    let other = app.browser();
    for i in 0..FREE_ACCOUNT {
        assert_failed(&other.sign_in(ALICE, "wrong").await, &format!("after {i}"));
    }
    assert_eq!(other.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);
}
