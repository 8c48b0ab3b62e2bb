//! Security headers on the HTML pages that `security_headers.rs` does not reach: the home page
//! (signed out and in), the signed-out page, the throttled sign-in, the unavailable page, the
//! expired-form pages, the malformed-request pages and the logout error page.

use super::unavailable::Lock;
use crate::browser::{AuthRequest, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, TestApp, WEB};
use crate::security_headers::assert_page_headers;

#[tokio::test]
async fn every_other_html_page_carries_the_security_headers() {
    let app = TestApp::spawn_with_env(&[("TESSERA_DATABASE_BUSY_TIMEOUT", "100ms")]).await;
    let mut pages: Vec<(&str, Reply, u16)> = Vec::new();
    let browser = app.browser();
    pages.push(("home, signed out", browser.get("/").await, 200));
    let (_, form) = browser.login_form().await;
    let mut repeated = form.fields.clone();
    repeated.push(("username".into(), "x".into()));
    pages.push((
        "malformed sign-in form",
        browser.post_form("/login", &repeated).await,
        400,
    ));
    let signed_in = browser
        .submit(
            &form
                .clone()
                .set("username", ALICE)
                .set("password", ALICE_PASSWORD),
            &[],
        )
        .await;
    assert_eq!(signed_in.status, 303);
    pages.push(("home, signed in", browser.get("/").await, 200));
    let consent = browser.authorize(&AuthRequest::for_client(WEB)).await;
    let consent_form = Form::find(&consent.body, "/consent");
    pages.push((
        "consent form expired",
        browser
            .submit(
                &consent_form.clone().set("csrf_token", "stale"),
                &[("decision", "allow")],
            )
            .await,
        400,
    ));
    pages.push((
        "malformed consent form",
        browser
            .submit(
                &consent_form,
                &[("decision", "allow"), ("decision", "deny")],
            )
            .await,
        400,
    ));
    pages.push((
        "logout error page",
        browser
            .get("/logout?post_logout_redirect_uri=https://evil.example/")
            .await,
        400,
    ));
    pages.push((
        "logout form expired",
        browser
            .post_form(
                "/logout",
                &[
                    ("csrf_token".to_string(), "stale".to_string()),
                    ("confirm".to_string(), "yes".to_string()),
                ],
            )
            .await,
        200,
    ));
    if !crate::backend::on_postgres() {
        let lock = Lock::take(&app);
        pages.push((
            "unavailable page",
            browser.authorize(&AuthRequest::for_client(PORTAL)).await,
            503,
        ));
        lock.release();
    }
    let home = Form::find(&browser.get("/").await.body, "/logout");
    let signed_out = browser.submit(&home, &[("confirm", "yes")]).await;
    pages.push(("signed-out page", signed_out, 200));
    let attacker = app.browser();
    for _ in 0..6 {
        attacker.sign_in(ALICE, "wrong password").await;
    }
    pages.push((
        "throttled sign-in",
        attacker.sign_in(ALICE, "wrong password").await,
        429,
    ));

    for (what, reply, status) in &pages {
        assert_eq!(reply.status, *status, "{what}: {}", reply.body);
        assert_page_headers(reply, what);
    }
}
