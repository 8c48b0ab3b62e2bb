//! `prompt` and `max_age` at the authorization endpoint (OIDC Core 3.1.2.1): prompt=none never
//! shows a page, prompt=login and an exceeded max_age ask for a fresh sign-in.

use crate::authorize::{assert_error_redirect, signed_in};
use crate::browser::AuthRequest;
use crate::helpers::{PORTAL, PORTAL_REDIRECT, Table, TestApp, WEB, query_of};

#[tokio::test]
async fn prompt_none_without_a_session_answers_login_required() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB).param("prompt", "none");

    let reply = app.browser().authorize(&req).await;

    assert_error_redirect(
        &app,
        &reply,
        &req,
        "login_required",
        "prompt=none, no session",
    );
}

#[tokio::test]
async fn prompt_none_without_consent_answers_consent_required() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let req = AuthRequest::for_client(WEB).param("prompt", "none");

    let reply = browser.authorize(&req).await;

    assert_error_redirect(
        &app,
        &reply,
        &req,
        "consent_required",
        "prompt=none, no consent",
    );
    assert_eq!(app.count(Table::Consents), 0);
}

#[tokio::test]
async fn prompt_none_with_session_and_consent_answers_with_a_code() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    browser.code_for(&app, &AuthRequest::for_client(WEB)).await;
    let req = AuthRequest::for_client(WEB).param("prompt", "none");

    let reply = browser.authorize(&req).await;

    let params = reply.redirect_query();
    assert!(params.contains_key("code"), "{params:?}");
    assert_eq!(params.get("state"), Some(&req.state));
}

/// Asserts that `req` (for a signed-in browser) asks for a new sign-in, and that completing it
/// starts a new session and yields a code whose ID token has a fresh `auth_time`.
async fn assert_fresh_login_forced(app: &TestApp, req: AuthRequest, what: &str) {
    let browser = signed_in(app).await;
    let old_cookie = browser.session_cookie().expect("a session cookie");
    let before = tessera::clock::now();

    let first = browser.authorize(&req).await;

    assert!(
        first.is_redirect(),
        "{what}: {} {}",
        first.status,
        first.body
    );
    assert_eq!(
        first.location().path(),
        "/login",
        "{what}: login asked again"
    );
    let callback = browser.drive(first, "allow").await;
    let params = query_of(&callback);
    let code = params
        .get("code")
        .unwrap_or_else(|| panic!("{what}: no code, {callback}"));
    assert_ne!(
        browser.session_cookie(),
        Some(old_cookie),
        "{what}: a new session"
    );
    let tokens = app
        .redeem(app.basic(PORTAL), code, PORTAL_REDIRECT, req.verifier())
        .await;
    assert_eq!(tokens.status, 200, "{what}: {}", tokens.body);
    let id = tokens.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_string();
    let (_, claims) = app.verify_jwt(&id, Some(PORTAL)).await;
    let auth_time = claims["auth_time"]
        .as_i64()
        .expect("auth_time in the ID token");
    assert!(
        auth_time >= before,
        "{what}: auth_time {auth_time} is the new sign-in"
    );
}

#[tokio::test]
async fn prompt_login_forces_a_fresh_login() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(PORTAL).param("prompt", "login");
    assert_fresh_login_forced(&app, req, "prompt=login").await;
}

#[tokio::test]
async fn max_age_zero_forces_a_fresh_login() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(PORTAL).param("max_age", "0");
    assert_fresh_login_forced(&app, req, "max_age=0").await;
}

#[tokio::test]
async fn max_age_not_exceeded_keeps_the_session_and_reports_auth_time() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let req = AuthRequest::for_client(PORTAL).param("max_age", "3600");

    let reply = browser.authorize(&req).await;

    let params = reply.redirect_query();
    let tokens = app
        .redeem(
            app.basic(PORTAL),
            &params["code"],
            PORTAL_REDIRECT,
            req.verifier(),
        )
        .await;
    let id = tokens.json()["id_token"]
        .as_str()
        .expect("id_token")
        .to_string();
    let (_, claims) = app.verify_jwt(&id, Some(PORTAL)).await;
    assert!(claims["auth_time"].as_i64().is_some());
}
