//! Open redirects beyond the authorization tests: internationalised and percent-encoded hosts,
//! userinfo tricks, trailing dots and slashes, at the authorization endpoint, for loopback
//! native apps, and for `post_logout_redirect_uri`. Each is an error page, never a redirect,
//! and stores nothing.

use crate::authorize::signed_in;
use crate::browser::AuthRequest;
use crate::helpers::{NATIVE, PORTAL, PORTAL_LOGOUT, Reply, Table, TestApp};
use crate::login::has_live_session;

/// Near-misses of `https://portal.example/cb` (registered for the portal client).
const PORTAL_VARIANTS: &[&str] = &[
    "https://pörtal.example/cb",
    "https://xn--prtal-jua.example/cb",
    "https://ｐortal.example/cb",
    "https://portal.example./cb",
    "https://portal%2Eexample/cb",
    "https://%70ortal.example/cb",
    "https://portal.example%2Fcb",
    "https://portal.example%2fcb",
    "https://portal.example/cb%2F",
    "https://portal.example/cb%3Fx=1",
    "https://portal.example/cb%23x",
    "https://portal.example/cb/.",
    "https://portal.example/./cb",
    "https://portal.example%40evil.example/cb",
    "https://portal.example\\@evil.example/cb",
    "https://portal.example:@evil.example/cb",
    "https://user:pass@portal.example/cb",
    "https://@portal.example/cb",
    "https://evil.example#@portal.example/cb",
    "https://evil.example?@portal.example/cb",
    "https://evil.example\\portal.example/cb",
    "https:portal.example/cb",
    "https:/portal.example/cb",
    "https:///portal.example/cb",
    "https://portal.example/cb\t",
    "https://portal.example/cb\n",
    "https://portal.example\u{0}/cb",
    "https://portal.example/cb?",
    "https://portal.example/cb#",
    "https://portal.example/cb;x",
];

/// Near-misses of the native app's `http://127.0.0.1/callback` (any port allowed).
const LOOPBACK_VARIANTS: &[&str] = &[
    "http://127.0.0.1:80@evil.example/callback",
    "http://127.0.0.1:5000@evil.example/callback",
    "http://127.0.0.1:5000/callback?x=1",
    "http://127.0.0.1:5000/callback/",
    "http://127.0.0.1:/callback",
    "http://127.0.0.1:123456/callback",
    "http://127.0.0.1:-1/callback",
    "http://127.0.0.2:5000/callback",
    "http://127.1:5000/callback",
    "http://2130706433:5000/callback",
    "http://0x7f.0.0.1:5000/callback",
    "https://127.0.0.1:5000/callback",
    "http://127.0.0.1%2Eevil.example/callback",
    "http://127.0.0.1.nip.io/callback",
];

fn assert_error_page(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 400, "{what}: status, body {}", reply.body);
    assert_eq!(reply.header("location"), None, "{what}: must not redirect");
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{what}: an HTML page"
    );
}

#[tokio::test]
async fn idn_percent_encoded_and_userinfo_redirect_uris_are_never_redirected_to() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;

    for variant in PORTAL_VARIANTS {
        let req = AuthRequest::for_client(PORTAL).redirect_uri(variant);
        let reply = browser.authorize(&req).await;
        assert_error_page(&reply, &format!("redirect_uri {variant:?}"));
    }
    for variant in LOOPBACK_VARIANTS {
        let req = AuthRequest::for_client(NATIVE).redirect_uri(variant);
        let reply = browser.authorize(&req).await;
        assert_error_page(&reply, &format!("loopback redirect_uri {variant:?}"));
    }

    assert_eq!(app.count(Table::AuthCodes), 0, "no code was issued");
}

#[tokio::test]
async fn post_logout_redirect_uri_variants_are_never_redirected_to() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid").await;
    let hint = tokens["id_token"].as_str().expect("id_token");
    let logout_variants = PORTAL_VARIANTS
        .iter()
        .map(|v| v.replace("/cb", "/bye"))
        .chain(["https://portal.example/bye/", "https://PORTAL.example/bye"].map(String::from));

    for variant in logout_variants {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", &variant)
            .append_pair("state", "s")
            .finish();
        let reply = browser.get(&format!("/logout?{query}")).await;
        assert_error_page(&reply, &format!("post_logout_redirect_uri {variant:?}"));
    }

    assert_eq!(app.count(Table::Sessions), 1, "the session was not ended");
    assert!(has_live_session(&browser).await);
    // The registered one still works, so the refusals above were about the URI alone.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", hint)
        .append_pair("post_logout_redirect_uri", PORTAL_LOGOUT)
        .finish();
    let reply = browser.get(&format!("/logout?{query}")).await;
    assert!(
        reply.location().as_str().starts_with(PORTAL_LOGOUT),
        "registered URI: {}",
        reply.status
    );
}
