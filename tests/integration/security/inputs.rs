//! Input limits on every endpoint that takes a body or parameters: bodies over 64 KiB get 413
//! (with a length and chunked), overlong parameters and repeated parameters are refused with a
//! clear error, and none of these requests changes anything. Malformed HTTP is answered 400 or
//! 431 and not logged as a server error.

use crate::authorize::signed_in;
use crate::browser::{AuthRequest, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, Reply, Table, TestApp, WEB, str_field};
use crate::login::has_live_session;

use super::sweep::send;

/// Every endpoint that accepts a POST body.
const POST_PATHS: &[&str] = &[
    "/token",
    "/introspect",
    "/revoke",
    "/userinfo",
    "/authorize",
    "/login",
    "/consent",
    "/logout",
];

fn counts(app: &TestApp) -> [i64; 5] {
    [
        app.count(Table::AuthCodes),
        app.count(Table::Sessions),
        app.count(Table::RefreshTokens),
        app.count(Table::Consents),
        app.count(Table::RevokedAccessTokens),
    ]
}

#[tokio::test]
async fn bodies_over_64_kib_get_413_everywhere_with_a_length_or_chunked() {
    let app = TestApp::spawn().await;
    let browser = signed_in(&app).await;
    let before = counts(&app);
    let body = format!("token=x&padding={}", "a".repeat(65 * 1024));
    let addr = app.base.trim_start_matches("http://").to_string();

    for path in POST_PATHS {
        let sized = browser
            .http
            .post(app.url(path))
            .basic_auth(WEB, Some(app.secret(WEB)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .await
            .expect("POST");
        let sized = Reply::read(sized).await;
        let mut chunked = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
             Content-Type: application/x-www-form-urlencoded\r\n\
             Transfer-Encoding: chunked\r\n\r\n"
        );
        for chunk in body.as_bytes().chunks(8 * 1024) {
            chunked.push_str(&format!(
                "{:x}\r\n{}\r\n",
                chunk.len(),
                String::from_utf8_lossy(chunk)
            ));
        }
        chunked.push_str("0\r\n\r\n");
        let chunked = send(&addr, chunked.as_bytes()).await;
        assert_eq!(
            sized.status, 413,
            "{path} with Content-Length: {}",
            sized.body
        );
        assert_eq!(chunked, Some(413), "{path} chunked");
    }
    let small = app.get("/healthz").await;
    assert_eq!(small.status, 200);
    assert_eq!(counts(&app), before, "nothing changed");
    assert!(has_live_session(&browser).await);
}

#[tokio::test]
async fn overlong_parameters_are_refused_everywhere() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let before = counts(&app);
    let long = "x".repeat(5_000);

    let authorize = browser
        .authorize(&AuthRequest::for_client(PORTAL).param("nonce2", &long))
        .await;
    let long_state = browser
        .authorize(&{
            let mut r = AuthRequest::for_client(PORTAL);
            r.state = long.clone();
            r
        })
        .await;
    let introspect = app.introspect(app.basic(PORTAL), &long).await;
    let revoke = app.revoke(app.basic(PORTAL), &long).await;
    let userinfo = app
        .api
        .post(app.url("/userinfo"))
        .form(&[("access_token", long.as_str())])
        .send()
        .await
        .expect("POST");
    let userinfo = Reply::read(userinfo).await;
    let stranger = app.browser();
    let (_, form) = stranger.login_form().await;
    let login = stranger
        .submit(&form.set("username", ALICE).set("password", &long), &[])
        .await;
    let logout = browser.get(&format!("/logout?state={long}")).await;

    for (what, reply) in [("authorize", &authorize), ("authorize state", &long_state)] {
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        assert_eq!(reply.header("location"), None, "{what}: no redirect");
    }
    introspect.assert_oauth_error(400, "invalid_request", "introspect");
    revoke.assert_oauth_error(400, "invalid_request", "revoke");
    userinfo.assert_oauth_error(400, "invalid_request", "userinfo");
    assert_eq!(login.status, 400, "login: {}", login.body);
    assert_eq!(logout.status, 400, "logout: {}", logout.body);
    for reply in [
        &authorize,
        &long_state,
        &introspect,
        &revoke,
        &userinfo,
        &login,
        &logout,
    ] {
        assert!(!reply.body.contains(&long), "the long value is not echoed");
    }
    assert_eq!(counts(&app), before, "nothing changed");
    assert!(app.is_active(PORTAL, &access).await);
    assert!(has_live_session(&browser).await);
}

#[tokio::test]
async fn repeated_parameters_are_refused_on_every_form_and_endpoint() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let refresh = str_field(&tokens, "refresh_token");

    // Sign-in with the username twice: one for the attacker, one for the victim.
    let stranger = app.browser();
    let (_, form) = stranger.login_form().await;
    let mut fields = form
        .set("username", ALICE)
        .set("password", ALICE_PASSWORD)
        .fields;
    fields.push(("username".into(), "mallory".into()));
    let login = stranger.post_form("/login", &fields).await;
    // Consent with the decision twice.
    let consenting = app.browser();
    let page = {
        let first = consenting.authorize(&AuthRequest::for_client(WEB)).await;
        let login_page = consenting.get(first.location().as_str()).await;
        let form = Form::find(&login_page.body, "/login")
            .set("username", ALICE)
            .set("password", ALICE_PASSWORD);
        let signed = consenting.submit(&form, &[]).await;
        consenting.get(signed.location().as_str()).await
    };
    let consent_form = Form::find(&page.body, "/consent");
    let mut fields = consent_form.fields.clone();
    fields.push(("decision".into(), "deny".into()));
    fields.push(("decision".into(), "allow".into()));
    let consent = consenting.post_form("/consent", &fields).await;
    // Logout confirmation with the CSRF token twice.
    let logout_form = Form::find(&browser.get("/logout").await.body, "/logout");
    let mut fields = logout_form.fields.clone();
    fields.push(("csrf_token".into(), "x".into()));
    fields.push(("confirm".into(), "yes".into()));
    let logout = browser.post_form("/logout", &fields).await;
    // Userinfo with two tokens in the body; revocation and refresh with the token twice.
    let userinfo = app
        .api
        .post(app.url("/userinfo"))
        .form(&[("access_token", access.as_str()), ("access_token", "other")])
        .send()
        .await
        .expect("POST");
    let userinfo = Reply::read(userinfo).await;
    let refreshed = app
        .token(
            app.basic(PORTAL),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("refresh_token", "other"),
            ],
        )
        .await;

    assert_eq!(login.status, 400, "login: {}", login.body);
    assert_eq!(login.header("location"), None);
    assert_eq!(consent.status, 400, "consent: {}", consent.body);
    assert_eq!(consent.header("location"), None);
    assert_eq!(logout.status, 400, "logout: {}", logout.body);
    userinfo.assert_oauth_error(400, "invalid_request", "userinfo");
    refreshed.assert_oauth_error(400, "invalid_request", "refresh");
    assert!(!has_live_session(&stranger).await, "no sign-in");
    assert_eq!(app.count(Table::Consents), 0, "no consent stored");
    assert!(has_live_session(&browser).await, "no sign-out");
    assert_eq!(app.refresh(app.basic(PORTAL), &refresh).await.status, 200);
}

#[tokio::test]
async fn malformed_http_gets_400_or_431_and_is_not_logged_as_a_server_error() {
    let server = super::process::ServerProcess::start("malformed-http").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(256 * 1024)
    );
    let requests: [(&[u8], u16); 3] = [
        (b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400),
        (b"GET /healthz HTTP/1.1\r\nHo\x01st: x\r\n\r\n", 400),
        (huge.as_bytes(), 431),
    ];

    for (bytes, expected) in requests {
        assert_eq!(send(&addr, bytes).await, Some(expected));
    }

    assert_eq!(server.health().await, 200, "/healthz after");
    let log = server.log();
    assert!(
        log.contains("Tessera is listening."),
        "the log is read: {log}"
    );
    let errors: Vec<&str> = log.lines().filter(|l| l.contains("ERROR")).collect();
    assert!(
        errors.is_empty(),
        "a client's fault logged as an error: {errors:#?}"
    );
}
