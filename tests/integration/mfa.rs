//! TOTP at sign-in over HTTP: the /mfa step after the password, the pending state that is no
//! session, replayed codes, throttled guesses, single-use recovery codes, enrolment forced by a
//! per-user flag or by `TESSERA_MFA=required`, and `amr`/`acr` in the ID token.

use scraper::{Html, Selector};

use crate::browser::{AuthRequest, Browser, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, Table, TestApp, str_field};
use crate::login::has_live_session;

pub fn step_now() -> i64 {
    tessera::clock::now() / 30
}

/// The TOTP code of a time step, from the base32 key.
pub fn totp_code(secret: &str, step: i64) -> String {
    tessera::crypto::totp::code_at(secret, step * 30).expect("a TOTP code")
}

fn texts(html: &str, css: &str) -> Vec<String> {
    let doc = Html::parse_document(html);
    let sel = Selector::parse(css).expect("selector");
    doc.select(&sel)
        .map(|e| e.text().collect::<String>().trim().to_string())
        .collect()
}

/// What enrolling from /account left: the key, the recovery codes, the step used, and the
/// signed-in browser.
pub struct Enrolled {
    pub secret: String,
    pub recovery: Vec<String>,
    pub step: i64,
    pub browser: Browser,
}

/// Signs alice in with her password (no MFA yet) and asserts the session started.
pub async fn signed_in_alice(app: &TestApp) -> Browser {
    let browser = app.browser();
    let reply = browser.sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(reply.status, 303, "sign-in: {}", reply.body);
    assert_eq!(reply.header("location"), Some("/"));
    browser
}

/// Reads the key off an enrolment page, confirms it with a code, and answers the key, the
/// recovery codes and the step used.
pub async fn confirm_on_page(
    browser: &Browser,
    page: &Reply,
    action: &str,
) -> (String, Vec<String>, i64) {
    assert_eq!(page.status, 200, "enrolment page: {}", page.body);
    assert!(page.body.contains("data:image/png;base64,"), "a QR code");
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("img-src 'self' data:"),
        "the QR code may load: {csp}"
    );
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let secret: String = texts(&page.body, "#totp-secret")
        .concat()
        .split_whitespace()
        .collect();
    assert_eq!(secret.len(), 32, "a 160-bit base32 key: {secret}");
    let step = step_now();
    let form = Form::find(&page.body, action).set("code", &totp_code(&secret, step));
    let done = browser.submit(&form, &[]).await;
    assert_eq!(done.status, 200, "confirmation: {}", done.body);
    let recovery = texts(&done.body, "#recovery-codes li");
    assert_eq!(recovery.len(), 10, "ten recovery codes");
    (secret, recovery, step)
}

/// Alice turns on TOTP from /account.
pub async fn enrol_alice(app: &TestApp) -> Enrolled {
    let browser = signed_in_alice(app).await;
    let account = browser.get("/account").await;
    assert_eq!(account.status, 200, "account: {}", account.body);
    let setup = Form::find(&account.body, "/account/mfa/setup");
    let page = browser.submit(&setup, &[]).await;
    let (secret, recovery, step) = confirm_on_page(&browser, &page, "/account/mfa/confirm").await;
    Enrolled {
        secret,
        recovery,
        step,
        browser,
    }
}

/// A fresh browser that passed alice's password: it is sent to /mfa.
pub async fn after_password(app: &TestApp) -> Browser {
    let browser = app.browser();
    let reply = browser.sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(reply.status, 303, "password step: {}", reply.body);
    assert_eq!(reply.header("location"), Some("/mfa"));
    browser
}

/// Sends a code through the /mfa form.
pub async fn send_code(browser: &Browser, code: &str) -> Reply {
    let page = browser.get("/mfa").await;
    assert_eq!(page.status, 200, "mfa page: {}", page.body);
    let form = Form::find(&page.body, "/mfa").set("code", code);
    browser.submit(&form, &[]).await
}

fn claims_of(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[tokio::test]
async fn a_sign_in_with_totp_gives_amr_otp_and_acr_2() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let browser = app.browser();
    let req = AuthRequest::for_client(PORTAL);

    // The app sends the browser to sign in; the password leads to /mfa, not back.
    let first = browser.authorize(&req).await;
    let login = browser.get(first.location().as_str()).await;
    let form = Form::find(&login.body, "/login")
        .set("username", ALICE)
        .set("password", ALICE_PASSWORD);
    let reply = browser.submit(&form, &[]).await;
    assert_eq!(reply.header("location"), Some("/mfa"), "{}", reply.body);
    let page = browser.get("/mfa").await;
    assert!(page.body.contains("Two-step verification"));
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(
        !csp.contains("data:"),
        "data: images only where a QR code is shown: {csp}"
    );

    let reply = send_code(
        &browser,
        &totp_code(&enrolled.secret, step_now().max(enrolled.step + 1)),
    )
    .await;
    assert_eq!(reply.status, 303, "code: {}", reply.body);
    let back = reply.location();
    assert_eq!(
        back.path(),
        "/authorize",
        "back to the authorization request"
    );
    let reply = browser.get(back.as_str()).await;
    let code = reply.redirect_query()["code"].clone();
    let tokens = app
        .redeem(app.basic(PORTAL), &code, &req.redirect_uri, req.verifier())
        .await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let (_, claims) = app
        .verify_jwt(&str_field(&tokens.json(), "id_token"), Some(PORTAL))
        .await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(claims["acr"], "2");
}

#[tokio::test]
async fn a_password_only_sign_in_keeps_acr_1() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let claims = claims_of(&str_field(&tokens, "id_token"));
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert_eq!(claims["acr"], "1");
}

#[tokio::test]
async fn skipping_the_mfa_step_gets_no_session_and_no_code() {
    let app = TestApp::spawn().await;
    enrol_alice(&app).await;
    let sessions = app.count(Table::Sessions);
    let browser = after_password(&app).await;

    // Straight to /authorize with only the pending state: no session, so no code.
    assert!(
        !has_live_session(&browser).await,
        "prompt=none: login_required"
    );
    let reply = browser.authorize(&AuthRequest::for_client(PORTAL)).await;
    assert_eq!(reply.location().path(), "/login", "sent back to sign in");
    let account = browser.get("/account").await;
    assert_eq!(
        account.location().path(),
        "/login",
        "/account needs a session"
    );
    assert_eq!(
        app.count(Table::Sessions),
        sessions,
        "no session was created"
    );
    assert_eq!(app.count(Table::AuthCodes), 0, "no code was issued");

    // The pending state belongs to that browser: another one has nothing to complete.
    let other = app.browser();
    let page = other.get("/mfa").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.header("location"), Some("/login"));
}

#[tokio::test]
async fn a_replayed_code_is_refused() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let code = totp_code(&enrolled.secret, step_now().max(enrolled.step + 1));

    let first = after_password(&app).await;
    assert_eq!(send_code(&first, &code).await.status, 303, "first use");

    let second = after_password(&app).await;
    let reply = send_code(&second, &code).await;
    assert_eq!(reply.status, 401, "replay: {}", reply.body);
    assert!(reply.body.contains("already been used"), "{}", reply.body);
    assert!(!has_live_session(&second).await);

    // The enrolment's own code cannot sign in either.
    let third = after_password(&app).await;
    let reply = send_code(&third, &totp_code(&enrolled.secret, enrolled.step)).await;
    assert_eq!(reply.status, 401, "enrolment code replayed");
}

#[tokio::test]
async fn wrong_codes_are_throttled_per_account() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let browser = after_password(&app).await;
    for i in 0..6 {
        let reply = send_code(&browser, "000000").await;
        assert_eq!(reply.status, 401, "wrong code {i}: {}", reply.body);
        assert!(reply.body.contains("not correct"));
    }
    // Blocked now, even with the right code, and even from a new sign-in.
    let right = totp_code(&enrolled.secret, step_now().max(enrolled.step + 1));
    let reply = send_code(&browser, &right).await;
    assert_eq!(reply.status, 429, "throttled: {}", reply.body);
    assert!(reply.header("retry-after").is_some());
    assert!(!has_live_session(&browser).await);
}

#[tokio::test]
async fn a_recovery_code_signs_in_once() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let code = enrolled.recovery[3].to_uppercase();

    let first = after_password(&app).await;
    let reply = send_code(&first, &code).await;
    assert_eq!(reply.status, 303, "recovery code: {}", reply.body);
    assert!(has_live_session(&first).await);

    let second = after_password(&app).await;
    let reply = send_code(&second, &enrolled.recovery[3]).await;
    assert_eq!(reply.status, 401, "reused recovery code: {}", reply.body);
    assert!(!has_live_session(&second).await);
}

#[tokio::test]
async fn the_mfa_form_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let browser = after_password(&app).await;
    let page = browser.get("/mfa").await;
    let code = totp_code(&enrolled.secret, step_now().max(enrolled.step + 1));
    let form = Form::find(&page.body, "/mfa").set("code", &code);
    for bad in [
        form.clone().without("csrf_token"),
        form.clone().set("csrf_token", "forged"),
    ] {
        let reply = browser.submit(&bad, &[]).await;
        assert_eq!(reply.status, 400, "{}", reply.body);
        assert!(reply.body.contains("Form expired"));
    }
    assert!(!has_live_session(&browser).await);
}

/// A person who must use MFA and has none enrols right after the password.
async fn enrols_at_sign_in(app: &TestApp) {
    let browser = after_password(app).await;
    let page = browser.get("/mfa").await;
    assert!(
        page.body.contains("Set up two-step verification"),
        "{}",
        page.body
    );
    assert!(
        !has_live_session(&browser).await,
        "no session before the code"
    );
    let (_, _, _) = confirm_on_page(&browser, &page, "/mfa").await;
    assert!(
        has_live_session(&browser).await,
        "signed in after enrolling"
    );
    // From now on the code step comes after the password.
    let again = after_password(app).await;
    let page = again.get("/mfa").await;
    assert!(
        page.body.contains("Enter the 6-digit code"),
        "{}",
        page.body
    );
}

#[tokio::test]
async fn a_user_flagged_mfa_required_enrols_at_sign_in() {
    let app = TestApp::spawn().await;
    let mut conn = app.db.conn().expect("db");
    tessera::manage::set_mfa_required(&mut conn, ALICE, true).expect("flag");
    drop(conn);
    enrols_at_sign_in(&app).await;
}

#[tokio::test]
async fn tessera_mfa_required_makes_everyone_enrol() {
    let app = TestApp::spawn_with_env(&[("TESSERA_MFA", "required")]).await;
    enrols_at_sign_in(&app).await;
}

#[tokio::test]
async fn a_pending_sign_in_expires_and_is_used_once() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let code = totp_code(&enrolled.secret, step_now().max(enrolled.step + 1));

    // Completed once: the pending cookie value is spent (the session has a new value).
    let browser = after_password(&app).await;
    let pending_cookie = browser.session_cookie().expect("pending cookie");
    let page = browser.get("/mfa").await;
    let form = Form::find(&page.body, "/mfa").set("code", &code);
    assert_eq!(browser.submit(&form, &[]).await.status, 303);
    assert_ne!(
        browser.session_cookie(),
        Some(pending_cookie.clone()),
        "new cookie value"
    );
    let thief = app.browser();
    thief.set_session_cookie(&pending_cookie);
    let reply = thief.submit(&form, &[]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(
        reply.header("location"),
        Some("/login"),
        "nothing left to complete"
    );
    assert!(!has_live_session(&thief).await);

    // Expired: five minutes after the password the code no longer helps.
    let late = after_password(&app).await;
    let page = late.get("/mfa").await;
    let form = Form::find(&page.body, "/mfa").set("code", &code);
    {
        use diesel::prelude::*;
        let mut conn = app.db.conn().expect("db");
        diesel::update(tessera::db::schema::mfa_pending::table)
            .set(tessera::db::schema::mfa_pending::expires_at.eq(tessera::clock::now() - 1))
            .execute(&mut *conn)
            .expect("age the pending sign-in");
    }
    let reply = late.submit(&form, &[]).await;
    assert_eq!(reply.header("location"), Some("/login"), "{}", reply.body);
    assert!(!has_live_session(&late).await);
}

#[tokio::test]
async fn wrong_codes_count_against_the_address_like_wrong_passwords() {
    let app = TestApp::spawn().await;
    enrol_alice(&app).await;
    // 5 wrong codes (the account's free ones) and 16 wrong passwords for unknown names make
    // 21 failures from this address: one more than it may have.
    let browser = after_password(&app).await;
    for _ in 0..5 {
        assert_eq!(send_code(&browser, "000000").await.status, 401);
    }
    for i in 0..16 {
        let reply = app
            .browser()
            .sign_in(&format!("nobody{i}"), "wrong password")
            .await;
        assert_eq!(reply.status, 401, "wrong password {i}");
    }
    let reply = app.browser().sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(
        reply.status, 429,
        "the address is throttled: {}",
        reply.body
    );
}
