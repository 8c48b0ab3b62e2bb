//! In headless Chromium: an admin signs in to the console, registers a client there, reads its
//! secret off the page, and that client completes an authorization code flow.

use fantoccini::Client;

use crate::browser::{AuthRequest, random_string};
use crate::helpers::{ADMIN_PASSWORD, ClientAuth, TestApp, query_of, str_field};
use crate::webdriver::{Chrome, Page, save_screenshot};

const APP: &str = "console-made";

/// With `TESSERA_SCREENSHOTS=1`, saves the page as `docs/screenshots/{name}.png`.
async fn screenshot_for_docs(c: &Client, name: &str) {
    if std::env::var("TESSERA_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("docs/screenshots/{name}.png"));
        save_screenshot(c, &path).await;
    }
}

#[tokio::test]
async fn an_admin_creates_a_client_in_the_console_and_it_signs_people_in_in_chromium() {
    let test = "an_admin_creates_a_client_in_the_console_and_it_signs_people_in_in_chromium";
    let Some(chrome) = Chrome::start(test).await else {
        return;
    };
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let base = app.base.clone();
    let issuer = app.issuer.clone();
    let redirect = app.url("/rp/console-callback");
    let shared = app.clone();
    chrome
        .run(move |c| async move {
            let app = shared;
            // 1. The console sends the admin to sign in, then back.
            c.goto(&format!("{base}/admin/clients"))
                .await
                .expect("console");
            assert_eq!(c.heading().await, "Sign in");
            c.fill("username", "admin").await;
            c.fill("password", ADMIN_PASSWORD).await;
            c.click_css("form[action='/login'] button[type=submit]")
                .await;
            assert_eq!(c.heading().await, "Clients");

            // 2. Register a first-party client; the secret is shown once.
            c.fill("client_id", APP).await;
            c.fill("name", "Made in the console").await;
            c.fill("redirect_uris", &redirect).await;
            c.click_css("input[name=first_party]").await;
            c.click_css("form[method='post'][action='/admin/clients'] button[type=submit]")
                .await;
            assert_eq!(c.heading().await, format!("Client {APP} registered"));
            let secret = c.text_of("#secret").await;
            assert!(secret.len() >= 43, "a 256-bit secret: {secret}");

            c.goto(&format!("{base}/admin")).await.expect("dashboard");
            assert_eq!(c.heading().await, "Dashboard");
            screenshot_for_docs(&c, "admin").await;

            // 3. The new client runs a code flow for the signed-in admin (first party: no consent).
            let req = AuthRequest {
                client_id: APP.into(),
                redirect_uri: redirect.clone(),
                scope: "openid profile".into(),
                state: random_string(),
                nonce: random_string(),
                code_verifier: Some(random_string()),
                extra: vec![],
            };
            c.goto(&format!("{base}/authorize?{}", req.query()))
                .await
                .expect("authorize");
            let url = c.current_url().await.expect("current URL");
            assert!(
                url.as_str().starts_with(&redirect),
                "back at the app: {url}"
            );
            let params = query_of(&url);
            assert_eq!(params.get("state"), Some(&req.state));
            assert_eq!(params.get("iss"), Some(&issuer));
            let reply = app
                .redeem(
                    ClientAuth::Basic(APP, &secret),
                    &params["code"],
                    &redirect,
                    req.verifier(),
                )
                .await;
            assert_eq!(reply.status, 200, "redemption: {}", reply.body);
            let (_, id) = app
                .verify_jwt(&str_field(&reply.json(), "id_token"), Some(APP))
                .await;
            assert_eq!(id["preferred_username"], "admin");
        })
        .await;
}
