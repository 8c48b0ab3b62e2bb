//! The authorization endpoint: redirect URI matching, errors that may and may not be sent to
//! the client, PKCE, prompt and max_age, consent CSRF, and 303 after POST.

use crate::browser::{AuthRequest, Form};
use crate::helpers::{
    ALICE, ALICE_PASSWORD, NATIVE, PORTAL, PORTAL_REDIRECT, Reply, SPA, Table, TestApp, WEB,
    WEB_REDIRECT, query_of,
};

/// Asserts an error page: 400, HTML, no redirect anywhere.
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

/// Asserts an error sent to the client's redirect URI (RFC 6749 4.1.2.1, RFC 9207).
pub fn assert_error_redirect(
    app: &TestApp,
    reply: &Reply,
    req: &AuthRequest,
    error: &str,
    what: &str,
) {
    assert!(
        matches!(reply.status, 302 | 303),
        "{what}: status {}, body {}",
        reply.status,
        reply.body
    );
    let location = reply.location();
    assert!(
        location
            .as_str()
            .starts_with(&format!("{}?", req.redirect_uri)),
        "{what}: sent to {location}"
    );
    let params = query_of(&location);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some(error),
        "{what}"
    );
    assert!(params.contains_key("error_description"), "{what}");
    assert_eq!(params.get("state"), Some(&req.state), "{what}: state");
    assert_eq!(params.get("iss"), Some(&app.issuer), "{what}: iss");
    assert!(!params.contains_key("code"), "{what}: no code");
}

/// A browser in which alice has signed in.
pub async fn signed_in(app: &TestApp) -> crate::browser::Browser {
    let browser = app.browser();
    let reply = browser.sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(reply.status, 303, "sign-in: {}", reply.body);
    browser
}

#[tokio::test]
async fn unknown_client_gets_an_error_page_and_no_redirect() {
    let app = TestApp::spawn().await;
    let mut req = AuthRequest::for_client(WEB);
    req.client_id = "nobody".into();

    let reply = app.browser().authorize(&req).await;

    assert_error_page(&reply, "unknown client");
}

#[tokio::test]
async fn redirect_uri_variants_are_never_redirected_to() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let variants = [
        "https://portal.example/cb/",
        "https://portal.example/cb/extra",
        "https://portal.example/cb?x=1",
        "https://portal.example/cb#fragment",
        "https://PORTAL.example/cb",
        "https://portal.example/CB",
        "HTTPS://portal.example/cb",
        "http://portal.example/cb",
        "https://portal.example:443/cb",
        "https://portal.example:8443/cb",
        "https://portal.example.evil.example/cb",
        "https://evil.example/cb",
        "https://portal.example@evil.example/cb",
        "https://evil.example@portal.example/cb",
        "https://portal.example/c%62",
        "https://portal.example/cb%2F..%2F..%2Fevil",
        "https://portal.example/cb/../cb",
        "https://portal.example//cb",
        "https://portal.example/cb%00",
        " https://portal.example/cb",
        "https://portal.example/cb ",
        "//portal.example/cb",
        "/cb",
        "",
    ];

    for variant in variants {
        let req = AuthRequest::for_client(PORTAL).redirect_uri(variant);
        let reply = browser.authorize(&req).await;
        assert_error_page(&reply, &format!("redirect_uri `{variant}`"));
    }
    let loopback_host =
        AuthRequest::for_client(NATIVE).redirect_uri("http://localhost:5000/callback");
    assert_error_page(
        &browser.authorize(&loopback_host).await,
        "localhost for a registered 127.0.0.1",
    );
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn missing_or_repeated_client_id_and_redirect_uri_get_an_error_page() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let req = AuthRequest::for_client(PORTAL);

    let missing_redirect = browser
        .get(&format!("/authorize?{}", req.query_without("redirect_uri")))
        .await;
    let missing_client = browser
        .get(&format!("/authorize?{}", req.query_without("client_id")))
        .await;
    let repeated_redirect = browser
        .authorize(&req.clone().param("redirect_uri", PORTAL_REDIRECT))
        .await;
    let repeated_evil = browser
        .authorize(&req.clone().param("redirect_uri", "https://evil.example/cb"))
        .await;
    let repeated_client = browser
        .authorize(&req.clone().param("client_id", WEB))
        .await;

    assert_error_page(&missing_redirect, "missing redirect_uri");
    assert_error_page(&missing_client, "missing client_id");
    assert_error_page(&repeated_redirect, "repeated redirect_uri");
    assert_error_page(&repeated_evil, "repeated redirect_uri, second one foreign");
    assert_error_page(&repeated_client, "repeated client_id");
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn other_errors_go_to_the_redirect_uri_with_state_and_iss() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let base = AuthRequest::for_client(PORTAL);
    let plain = {
        let mut r = base.clone().without_pkce();
        r.extra = vec![
            ("code_challenge".into(), crate::browser::random_string()),
            ("code_challenge_method".into(), "plain".into()),
        ];
        r
    };
    let no_method = {
        let mut r = base.clone().without_pkce();
        r.extra = vec![("code_challenge".into(), crate::browser::random_string())];
        r
    };
    let cases = [
        (
            "repeated response_type",
            base.clone().param("response_type", "code"),
            "invalid_request",
        ),
        ("PKCE plain", plain, "invalid_request"),
        (
            "PKCE challenge without method (plain)",
            no_method,
            "invalid_request",
        ),
        (
            "public client without PKCE",
            AuthRequest::for_client(SPA).without_pkce(),
            "invalid_request",
        ),
        (
            "repeated scope",
            base.clone().param("scope", "openid"),
            "invalid_request",
        ),
        (
            "repeated state",
            base.clone().param("state", "other"),
            "invalid_request",
        ),
        (
            "unknown scope",
            base.clone().scope("openid admin"),
            "invalid_scope",
        ),
    ];

    for (what, req, error) in cases {
        let reply = browser.authorize(&req).await;
        assert_error_redirect(&app, &reply, &req, error, what);
    }
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn only_the_code_response_type_is_supported() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;

    for response_type in ["token", "id_token", "code id_token", "code token", "none"] {
        let req = AuthRequest::for_client(PORTAL);
        let query = req.query().replace(
            "response_type=code",
            &format!("response_type={}", response_type.replace(' ', "+")),
        );
        let reply = browser.get(&format!("/authorize?{query}")).await;
        assert_error_redirect(
            &app,
            &reply,
            &req,
            "unsupported_response_type",
            response_type,
        );
        assert!(
            !reply.location().as_str().contains('#'),
            "never a fragment response"
        );
    }
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn scope_without_openid_is_rejected() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let req = AuthRequest::for_client(PORTAL).scope("profile email");

    let reply = browser.authorize(&req).await;

    // OIDC Core leaves the code open; both are RFC 6749 codes for a bad scope request.
    let error = query_of(&reply.location())
        .get("error")
        .cloned()
        .unwrap_or_default();
    let expected = if error == "invalid_request" {
        "invalid_request"
    } else {
        "invalid_scope"
    };
    assert_error_redirect(&app, &reply, &req, expected, "scope without openid");
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn without_a_session_the_browser_is_sent_to_the_login_page() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(WEB);

    let reply = browser.authorize(&req).await;

    assert!(matches!(reply.status, 302 | 303), "{}", reply.status);
    let login = reply.location();
    assert_eq!(login.path(), "/login");
    let return_to = query_of(&login)
        .get("return_to")
        .cloned()
        .expect("return_to");
    assert!(
        return_to.starts_with("/authorize?")
            || return_to.starts_with(&format!("{}/authorize?", app.issuer))
    );
    let page = browser.get(login.as_str()).await;
    assert_eq!(page.status, 200);
    let form = Form::find(&page.body, "/login");
    assert_eq!(form.get("return_to"), Some(return_to.as_str()));
    assert_eq!(app.count(Table::AuthCodes), 0);
}

#[tokio::test]
async fn redirects_after_a_post_to_authorize_use_303() {
    let app = TestApp::spawn().await;
    let anonymous = app.browser();
    let browser = signed_in(&app).await;
    let good = AuthRequest::for_client(PORTAL);
    let mut plain = AuthRequest::for_client(PORTAL).without_pkce();
    plain.extra = vec![
        ("code_challenge".into(), crate::browser::random_string()),
        ("code_challenge_method".into(), "plain".into()),
    ];

    let to_login = anonymous.post_form("/authorize", &good.params()).await;
    let error = browser.post_form("/authorize", &plain.params()).await;
    let code = browser.post_form("/authorize", &good.params()).await;

    assert_eq!(to_login.status, 303, "to login: {}", to_login.body);
    assert_eq!(to_login.location().path(), "/login");
    assert_eq!(error.status, 303, "error redirect");
    assert_error_redirect(
        &app,
        &error,
        &plain,
        "invalid_request",
        "POST with plain PKCE",
    );
    assert_eq!(code.status, 303, "code redirect: {}", code.body);
    assert!(query_of(&code.location()).contains_key("code"));
}

#[tokio::test]
async fn consent_without_a_valid_csrf_token_is_rejected() {
    let app = TestApp::spawn().await;
    let victim = signed_in(&app).await;
    let attacker = signed_in(&app).await;
    let req = AuthRequest::for_client(WEB);
    let page = victim.authorize(&req).await;
    assert_eq!(page.status, 200, "consent page: {}", page.body);
    let form = Form::find(&page.body, "/consent");
    let attacker_page = attacker.authorize(&req).await;
    let attacker_csrf = Form::find(&attacker_page.body, "/consent")
        .get("csrf_token")
        .expect("csrf_token")
        .to_string();

    let missing = victim
        .submit(
            &form.clone().without("csrf_token"),
            &[("decision", "allow")],
        )
        .await;
    let foreign = victim
        .submit(
            &form.clone().set("csrf_token", &attacker_csrf),
            &[("decision", "allow")],
        )
        .await;
    let empty = victim
        .submit(
            &form.clone().set("csrf_token", ""),
            &[("decision", "allow")],
        )
        .await;

    for (what, reply) in [
        ("missing", missing),
        ("another session's", foreign),
        ("empty", empty),
    ] {
        assert_eq!(reply.status, 400, "{what} CSRF token: {}", reply.body);
        assert_eq!(reply.header("location"), None, "{what} CSRF token");
    }
    assert_eq!(app.count(Table::AuthCodes), 0);
    assert_eq!(app.count(Table::Consents), 0);
}

#[tokio::test]
async fn consent_form_cannot_swap_the_redirect_uri() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let req = AuthRequest::for_client(WEB);
    let page = browser.authorize(&req).await;
    let form = Form::find(&page.body, "/consent");
    assert_eq!(form.get("redirect_uri"), Some(WEB_REDIRECT));

    let reply = browser
        .submit(
            &form.set("redirect_uri", "https://evil.example/cb"),
            &[("decision", "allow")],
        )
        .await;

    assert_error_page(&reply, "consent with a swapped redirect_uri");
    assert_eq!(app.count(Table::AuthCodes), 0);
}
