//! RP-initiated logout: the id_token_hint, registered post-logout redirect URIs only, the
//! confirmation page and its CSRF token, and the session really ending.

use crate::browser::{AuthRequest, Form};
use crate::helpers::{
    PORTAL, PORTAL_LOGOUT, PORTAL_REDIRECT, Table, TestApp, WEB_LOGOUT, query_of,
};
use crate::login::has_live_session;

fn logout_query(pairs: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    format!("/logout?{}", s.finish())
}

#[tokio::test]
async fn logout_with_an_id_token_hint_ends_the_session_and_redirects() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid").await;
    let hint = tokens["id_token"].as_str().expect("id_token");
    let old_cookie = browser.session_cookie().expect("session cookie");

    let reply = browser
        .get(&logout_query(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", PORTAL_LOGOUT),
            ("state", "bye-123"),
        ]))
        .await;

    assert!(
        matches!(reply.status, 302 | 303),
        "{} {}",
        reply.status,
        reply.body
    );
    let location = reply.location();
    assert!(
        location.as_str().starts_with(&format!("{PORTAL_LOGOUT}?")),
        "{location}"
    );
    assert_eq!(
        query_of(&location).get("state").map(String::as_str),
        Some("bye-123")
    );
    assert_eq!(app.count(Table::Sessions), 0, "the session is destroyed");
    assert!(!has_live_session(&browser).await);
    let again = browser.authorize(&AuthRequest::for_client(PORTAL)).await;
    assert_eq!(
        again.location().path(),
        "/login",
        "signing in is asked again"
    );
    let replayed = app.browser();
    replayed.set_session_cookie(&old_cookie);
    assert!(
        !has_live_session(&replayed).await,
        "the old cookie value is dead"
    );
}

#[tokio::test]
async fn unregistered_post_logout_redirect_uris_get_an_error_page() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid").await;
    let hint = tokens["id_token"].as_str().expect("id_token");
    let trailing = format!("{PORTAL_LOGOUT}/");
    let query = format!("{PORTAL_LOGOUT}?next=x");
    let upper = PORTAL_LOGOUT.replace("portal", "PORTAL");

    for uri in [
        "https://evil.example/bye",
        trailing.as_str(),
        query.as_str(),
        upper.as_str(),
        WEB_LOGOUT,
        PORTAL_REDIRECT,
    ] {
        let reply = browser
            .get(&logout_query(&[
                ("id_token_hint", hint),
                ("post_logout_redirect_uri", uri),
                ("state", "s"),
            ]))
            .await;
        assert_eq!(reply.status, 400, "{uri}: {}", reply.body);
        assert_eq!(reply.header("location"), None, "{uri}: never redirected to");
    }
    assert!(has_live_session(&browser).await, "the session is untouched");
}

#[tokio::test]
async fn logout_without_a_hint_asks_for_confirmation() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.tokens_for(PORTAL, "openid").await;

    let page = browser.get("/logout").await;

    assert_eq!(page.status, 200, "{}", page.body);
    let form = Form::find(&page.body, "/logout");
    assert_eq!(form.method, "post");
    assert!(form.get("csrf_token").is_some_and(|t| !t.is_empty()));
    assert!(
        form.buttons.iter().any(|b| b.2 == "Sign out"),
        "{:?}",
        form.buttons
    );
    assert!(
        has_live_session(&browser).await,
        "showing the page signs nobody out"
    );
    let button: Vec<(&str, &str)> = form
        .buttons
        .iter()
        .filter(|b| !b.0.is_empty())
        .map(|b| (b.0.as_str(), b.1.as_str()))
        .collect();
    let reply = browser.submit(&form, &button).await;
    assert!(reply.status < 400, "{} {}", reply.status, reply.body);
    assert!(
        !has_live_session(&browser).await,
        "signed out after confirming"
    );
    assert_eq!(app.count(Table::Sessions), 0);
}

#[tokio::test]
async fn logout_confirmation_without_a_valid_csrf_token_is_rejected() {
    let app = TestApp::spawn().await;
    let (browser, _) = app.tokens_for(PORTAL, "openid").await;
    let (other, _) = app.tokens_for(PORTAL, "openid").await;
    let form = Form::find(&browser.get("/logout").await.body, "/logout");
    let foreign = Form::find(&other.get("/logout").await.body, "/logout");
    let foreign_csrf = foreign.get("csrf_token").expect("csrf").to_string();

    let confirm = [("confirm", "yes")];
    let missing = browser
        .submit(&form.clone().without("csrf_token"), &confirm)
        .await;
    let wrong = browser
        .submit(&form.clone().set("csrf_token", &foreign_csrf), &confirm)
        .await;

    // Rejected: an error page, or the confirmation asked again; never a sign-out.
    for (what, reply) in [("missing", &missing), ("another session's", &wrong)] {
        assert!(
            reply.status == 400
                || (reply.status == 200 && Form::try_find(&reply.body, "/logout").is_some()),
            "{what} CSRF token: {} {}",
            reply.status,
            reply.body
        );
        assert_eq!(reply.header("location"), None, "{what}");
    }
    assert!(has_live_session(&browser).await, "still signed in");
}

#[tokio::test]
async fn a_forged_or_foreign_id_token_hint_does_not_sign_out_silently() {
    let app = TestApp::spawn().await;
    let (victim, _) = app.tokens_for(PORTAL, "openid").await;
    let (_, other_tokens) = app.tokens_for(PORTAL, "openid").await;
    let foreign = other_tokens["id_token"]
        .as_str()
        .expect("id_token")
        .to_string();
    let (kid, _) = app.signing_key();
    let mut claims = crate::forge::claims_of(&foreign);
    claims["iss"] = "https://evil.example".into();
    let forged =
        crate::forge::sign_rs256(&crate::forge::attacker_key(), Some(&kid), "JWT", &claims);

    for (what, hint) in [("another session's", foreign), ("forged", forged)] {
        let reply = victim
            .get(&logout_query(&[
                ("id_token_hint", &hint),
                ("post_logout_redirect_uri", PORTAL_LOGOUT),
                ("state", "s"),
            ]))
            .await;
        assert!(
            !reply.is_redirect() || !reply.location().as_str().starts_with(PORTAL_LOGOUT),
            "{what} hint: redirected without confirmation"
        );
        assert!(
            has_live_session(&victim).await,
            "{what} hint: still signed in"
        );
    }
}
