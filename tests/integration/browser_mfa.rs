//! In headless Chromium: a person signs in to an app and consents, enrols TOTP from /account
//! by reading the key off the page, signs out, signs in again with password and TOTP, and the
//! app's ID token says a second factor was used.

use fantoccini::{Client, Locator};
use tessera::manage::NewClient;

use crate::browser::{AuthRequest, random_string};
use crate::helpers::{ALICE, ALICE_PASSWORD, TestApp, query_of};
use crate::webdriver::{Chrome, Page, save_screenshot};

const RP: &str = "browser-rp";

/// A confidential app (consent required) whose redirect URI is on the test server itself, so
/// the browser lands on a real page and the test reads the code from its URL.
fn register_rp(app: &TestApp) -> (String, String) {
    let redirect = app.url("/rp/callback");
    let mut conn = app.db.conn().expect("db connection");
    let secret = tessera::manage::create_client(
        &mut conn,
        NewClient {
            client_id: RP.into(),
            name: "Browser Test App".into(),
            redirect_uris: vec![redirect.clone()],
            post_logout_redirect_uris: vec![],
            public: false,
            grant_types: vec![],
            scopes: vec![],
            first_party: false,
            secret: None,
            id_token_signed_response_alg: Default::default(),
        },
        tessera::clock::now(),
    )
    .expect("create the app")
    .expect("a secret");
    (redirect, secret)
}

fn request(redirect: &str) -> AuthRequest {
    AuthRequest {
        client_id: RP.into(),
        redirect_uri: redirect.into(),
        scope: "openid profile email".into(),
        state: random_string(),
        nonce: random_string(),
        code_verifier: Some(random_string()),
        extra: vec![],
    }
}

/// The TOTP code for a step, computed here with totp-rs from the key the page showed.
fn totp_code(secret: &str, step: u64) -> String {
    let totp = totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).expect("a base32 key"))
        .build()
        .expect("a TOTP");
    totp.generate(step * 30).to_string()
}

/// With `TESSERA_SCREENSHOTS=1`, saves the page as `docs/screenshots/{name}.png`.
async fn screenshot_for_docs(c: &Client, name: &str) {
    if std::env::var("TESSERA_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("docs/screenshots/{name}.png"));
        save_screenshot(c, &path).await;
    }
}

fn current_step() -> u64 {
    u64::try_from(tessera::clock::now()).expect("time after 1970") / 30
}

async fn sign_in(c: &Client) {
    assert_eq!(c.heading().await, "Sign in");
    c.fill("username", ALICE).await;
    c.fill("password", ALICE_PASSWORD).await;
    c.click_css("form[action='/login'] button[type=submit]")
        .await;
}

async fn code_from_url(c: &Client, req: &AuthRequest) -> String {
    let url = c.current_url().await.expect("current URL");
    assert!(
        url.as_str().starts_with(&req.redirect_uri),
        "the browser should be back at the app, is at {url}"
    );
    let params = query_of(&url);
    assert_eq!(params.get("state"), Some(&req.state), "state");
    params.get("code").cloned().expect("a code")
}

#[tokio::test]
async fn a_person_enrols_totp_and_signs_in_with_it_in_chromium() {
    let Some(chrome) = Chrome::start("a_person_enrols_totp_and_signs_in_with_it_in_chromium").await
    else {
        return;
    };
    let app = TestApp::spawn().await;
    let (redirect, secret) = register_rp(&app);
    let base = app.base.clone();
    let issuer = app.issuer.clone();
    let app = std::sync::Arc::new(app);
    let shared = app.clone();
    chrome
        .run(move |c| async move {
            let app = shared;
            // 1. Sign in from the app and allow it.
            let first = request(&redirect);
            c.goto(&format!("{base}/authorize?{}", first.query()))
                .await
                .expect("authorize");
            screenshot_for_docs(&c, "login").await;
            sign_in(&c).await;
            let consent = c.heading().await;
            assert!(
                consent.contains("Browser Test App"),
                "consent names the app: {consent}"
            );
            let page = c.source().await.expect("page source");
            assert!(
                page.contains("Your email address"),
                "consent explains the scopes"
            );
            c.click_css("button[value=allow]").await;
            let code = code_from_url(&c, &first).await;
            let reply = app
                .redeem(
                    crate::helpers::ClientAuth::Basic(RP, &secret),
                    &code,
                    &redirect,
                    first.verifier(),
                )
                .await;
            assert_eq!(reply.status, 200, "first redemption: {}", reply.body);

            // 2. Enrol TOTP from the account page, reading the key off the page.
            c.goto(&format!("{base}/account")).await.expect("account");
            assert_eq!(c.heading().await, "Your account");
            c.click_css("form[action='/account/mfa/setup'] button")
                .await;
            assert_eq!(c.heading().await, "Set up two-step verification");
            screenshot_for_docs(&c, "mfa-setup").await;
            let qr = c.find(Locator::Css("img.qr")).await.expect("a QR code");
            let src = qr.attr("src").await.expect("src").unwrap_or_default();
            assert!(
                src.starts_with("data:image/png;base64,"),
                "QR code as a data: URI"
            );
            let key: String = c.text_of("#totp-secret").await.split_whitespace().collect();
            let enrol_step = current_step();
            c.fill("code", &totp_code(&key, enrol_step)).await;
            c.click_css("form[action='/account/mfa/confirm'] button")
                .await;
            assert_eq!(c.heading().await, "Save your recovery codes");
            let codes = c
                .find_all(Locator::Css("#recovery-codes li"))
                .await
                .expect("codes");
            assert_eq!(codes.len(), 10, "ten recovery codes");
            c.click_css("a.button").await;
            screenshot_for_docs(&c, "account").await;
            let page = c.source().await.expect("page source");
            assert!(
                page.contains("Two-step verification is on."),
                "account says MFA is on"
            );

            // 3. Sign out.
            c.click_css("form[action='/logout'] button").await;
            let bye = c.heading().await;
            assert!(
                bye.to_lowercase().contains("signed out"),
                "signed out: {bye}"
            );

            // 4. Sign in again: password, then a code from the next time step (the enrolment's
            //    step may not be used twice).
            let second = request(&redirect);
            c.goto(&format!("{base}/authorize?{}", second.query()))
                .await
                .expect("authorize");
            sign_in(&c).await;
            assert_eq!(c.heading().await, "Two-step verification");
            screenshot_for_docs(&c, "mfa").await;
            let step = current_step().max(enrol_step + 1);
            c.fill("code", &totp_code(&key, step)).await;
            c.click_css("form[action='/mfa'] button").await;
            let code = code_from_url(&c, &second).await;

            // 5. The app's ID token says a second factor was used.
            let reply = app
                .redeem(
                    crate::helpers::ClientAuth::Basic(RP, &secret),
                    &code,
                    &redirect,
                    second.verifier(),
                )
                .await;
            assert_eq!(reply.status, 200, "second redemption: {}", reply.body);
            let id_token = crate::helpers::str_field(&reply.json(), "id_token");
            let (_, claims) = app.verify_jwt(&id_token, Some(RP)).await;
            let amr: Vec<&str> = claims["amr"]
                .as_array()
                .expect("amr")
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(amr, ["pwd", "otp"], "amr");
            assert_eq!(claims["acr"], "2", "acr");
            assert_eq!(claims["iss"], issuer.as_str());
        })
        .await;
    drop(app);
}
