//! Headers of every HTML page (CSP, framing, sniffing, referrer, HSTS) and where CORS applies.

use crate::browser::{AuthRequest, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, SERVICE, TestApp, WEB};

const ORIGIN: &str = "https://spa.example";

/// Asserts the headers SECURITY.md requires on every HTML page.
pub fn assert_page_headers(reply: &Reply, what: &str) {
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("text/html")),
        "{what}: HTML ({:?})",
        reply.header("content-type")
    );
    let csp = reply
        .header("content-security-policy")
        .unwrap_or_else(|| panic!("{what}: no Content-Security-Policy"));
    assert!(
        csp.contains("frame-ancestors 'none'"),
        "{what}: CSP `{csp}`"
    );
    let directives: Vec<&str> = csp.split(';').map(str::trim).collect();
    let script = directives
        .iter()
        .find(|d| d.starts_with("script-src "))
        .or_else(|| directives.iter().find(|d| d.starts_with("default-src ")))
        .unwrap_or_else(|| panic!("{what}: CSP without script-src or default-src: `{csp}`"));
    assert!(!script.contains("'unsafe-inline'"), "{what}: `{script}`");
    assert!(!script.contains("'unsafe-eval'"), "{what}: `{script}`");
    assert_eq!(reply.header("x-frame-options"), Some("DENY"), "{what}");
    assert_eq!(
        reply.header("x-content-type-options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(
        reply.header("referrer-policy"),
        Some("no-referrer"),
        "{what}"
    );
    let body = reply.body.to_ascii_lowercase();
    for inline in ["<script>", "onclick=", "onload=", "javascript:"] {
        assert!(!body.contains(inline), "{what}: inline script `{inline}`");
    }
}

#[tokio::test]
async fn every_html_page_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let mut pages = vec![];
    let (login, form) = browser.login_form().await;
    pages.push(("login page", login));
    pages.push((
        "failed login",
        browser
            .submit(
                &form.clone().set("username", ALICE).set("password", "nope"),
                &[],
            )
            .await,
    ));
    pages.push((
        "login without CSRF",
        browser
            .submit(&form.clone().without("csrf_token"), &[])
            .await,
    ));
    let mut unknown = AuthRequest::for_client(WEB);
    unknown.client_id = "nobody".into();
    pages.push(("authorize error page", browser.authorize(&unknown).await));
    pages.push(("not found", browser.get("/no/such/page").await));
    let signed_in = browser
        .submit(
            &form.set("username", ALICE).set("password", ALICE_PASSWORD),
            &[],
        )
        .await;
    assert_eq!(signed_in.status, 303);
    let consent = browser.authorize(&AuthRequest::for_client(WEB)).await;
    assert!(
        Form::try_find(&consent.body, "/consent").is_some(),
        "consent page"
    );
    pages.push(("consent page", consent));
    pages.push(("logout confirmation", browser.get("/logout").await));

    for (what, reply) in &pages {
        assert_page_headers(reply, what);
    }
}

async fn with_origin(app: &TestApp, method: reqwest::Method, path: &str) -> Reply {
    let resp = app
        .api
        .request(method, app.url(path))
        .header("origin", ORIGIN)
        .send()
        .await
        .expect("request");
    Reply::read(resp).await
}

fn allows(reply: &Reply) -> bool {
    reply
        .header("access-control-allow-origin")
        .is_some_and(|v| v == ORIGIN || v == "*")
}

#[tokio::test]
async fn cors_is_allowed_on_discovery_jwks_token_and_userinfo() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = tokens["access_token"].as_str().expect("access_token");

    let discovery = with_origin(
        &app,
        reqwest::Method::GET,
        "/.well-known/openid-configuration",
    )
    .await;
    let jwks = with_origin(&app, reqwest::Method::GET, "/jwks").await;
    let token = app
        .api
        .post(app.url("/token"))
        .header("origin", ORIGIN)
        .basic_auth(SERVICE, Some(app.secret(SERVICE)))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("POST /token");
    let token = Reply::read(token).await;
    let userinfo = app
        .api
        .get(app.url("/userinfo"))
        .header("origin", ORIGIN)
        .bearer_auth(access)
        .send()
        .await
        .expect("GET /userinfo");
    let userinfo = Reply::read(userinfo).await;
    let preflight = app
        .api
        .request(reqwest::Method::OPTIONS, app.url("/token"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send()
        .await
        .expect("OPTIONS /token");
    let preflight = Reply::read(preflight).await;

    for (what, reply) in [
        ("discovery", &discovery),
        ("jwks", &jwks),
        ("token", &token),
        ("userinfo", &userinfo),
        ("token preflight", &preflight),
    ] {
        assert!(
            reply.status < 400,
            "{what}: {} {}",
            reply.status,
            reply.body
        );
        assert!(allows(reply), "{what}: no Access-Control-Allow-Origin");
    }
}

#[tokio::test]
async fn cors_is_never_allowed_on_authorize_or_the_pages() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);

    let authorize = with_origin(
        &app,
        reqwest::Method::GET,
        &format!("/authorize?{}", req.query()),
    )
    .await;
    let preflight = app
        .api
        .request(reqwest::Method::OPTIONS, app.url("/authorize"))
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .expect("OPTIONS /authorize");
    let preflight = Reply::read(preflight).await;
    let login = with_origin(&app, reqwest::Method::GET, "/login").await;
    let logout = with_origin(&app, reqwest::Method::GET, "/logout").await;

    for (what, reply) in [
        ("authorize", &authorize),
        ("authorize preflight", &preflight),
        ("login", &login),
        ("logout", &logout),
    ] {
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "{what}: CORS must not be allowed"
        );
    }
}

#[tokio::test]
async fn an_https_issuer_adds_hsts_and_secure_cookies() {
    let app = TestApp::spawn_with_issuer(Some(|port| format!("https://127.0.0.1:{port}"))).await;

    let page = app.get("/login").await;

    assert_eq!(page.status, 200, "{}", page.body);
    let hsts = page
        .header("strict-transport-security")
        .expect("Strict-Transport-Security");
    assert!(hsts.contains("max-age="), "{hsts}");
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("tessera_session="))
        .expect("session cookie")
        .to_ascii_lowercase();
    assert!(cookie.split(';').any(|a| a.trim() == "secure"), "{cookie}");
    let discovery = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(discovery["issuer"], serde_json::json!(app.issuer));
}
