//! The sign-in page: the anonymous cookie, CSRF, the generic failure message, session
//! rotation (no fixation) and the return address.

use crate::browser::{AuthRequest, Browser, Form, SESSION_COOKIE};
use crate::helpers::{ALICE, ALICE_PASSWORD, Reply, Table, TestApp, WEB, query_of};

const FAILED: &str = "Incorrect username or password.";

/// The `Set-Cookie` header of the session cookie, if the reply set one.
fn session_set_cookie(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{SESSION_COOKIE}=")))
        .map(str::to_string)
}

fn attributes(set_cookie: &str) -> Vec<String> {
    set_cookie
        .split(';')
        .skip(1)
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// Asserts `HttpOnly`, `SameSite=Lax` and `Path=/`.
pub fn assert_cookie_flags(set_cookie: &str) {
    let attrs = attributes(set_cookie);
    assert!(
        attrs.iter().any(|a| a == "httponly"),
        "HttpOnly: {set_cookie}"
    );
    assert!(
        attrs.iter().any(|a| a == "samesite=lax"),
        "SameSite=Lax: {set_cookie}"
    );
    assert!(attrs.iter().any(|a| a == "path=/"), "Path=/: {set_cookie}");
}

/// Whether the browser's session is signed in: prompt=none answers a code, not login_required.
pub async fn has_live_session(browser: &Browser) -> bool {
    let req = AuthRequest::for_client(crate::helpers::PORTAL).param("prompt", "none");
    let reply = browser.authorize(&req).await;
    assert!(
        reply.is_redirect(),
        "prompt=none: {} {}",
        reply.status,
        reply.body
    );
    let params = query_of(&reply.location());
    match params.get("error").map(String::as_str) {
        Some("login_required") => false,
        None if params.contains_key("code") => true,
        other => panic!("prompt=none answered {other:?}"),
    }
}

#[tokio::test]
async fn login_page_sets_an_anonymous_cookie_and_shows_the_form() {
    let app = TestApp::spawn().await;
    let browser = app.browser();

    let (page, form) = browser.login_form().await;

    let set_cookie = session_set_cookie(&page).expect("a session cookie on the login page");
    assert_cookie_flags(&set_cookie);
    assert_eq!(form.method, "post");
    for field in ["username", "password", "csrf_token", "return_to"] {
        assert!(form.get(field).is_some(), "field `{field}`");
    }
    assert!(form.get("csrf_token").is_some_and(|t| t.len() >= 32));
    let value = browser.session_cookie().expect("cookie in the jar");
    assert!(value.len() >= 43, "256-bit cookie value");
    assert!(
        !page.body.contains(&value),
        "the cookie value is not in the page"
    );
    assert_eq!(
        app.count(Table::Sessions),
        0,
        "no session before signing in"
    );
}

#[tokio::test]
async fn signing_in_rotates_the_session_cookie() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let (_, form) = browser.login_form().await;
    let anonymous = browser.session_cookie().expect("anonymous cookie");

    let reply = browser
        .submit(
            &form.set("username", ALICE).set("password", ALICE_PASSWORD),
            &[],
        )
        .await;

    assert_eq!(reply.status, 303, "{}", reply.body);
    let set_cookie = session_set_cookie(&reply).expect("a new session cookie");
    assert_cookie_flags(&set_cookie);
    let signed_in = browser.session_cookie().expect("session cookie");
    assert_ne!(signed_in, anonymous, "a new value at sign-in");
    assert_eq!(app.count(Table::Sessions), 1);
    assert!(has_live_session(&browser).await);
}

#[tokio::test]
async fn a_planted_cookie_is_not_signed_in_by_the_victim() {
    let app = TestApp::spawn().await;
    let attacker = app.browser();
    attacker.login_form().await;
    let planted = attacker
        .session_cookie()
        .expect("attacker's anonymous cookie");
    let victim = app.browser();
    victim.set_session_cookie(&planted);

    let reply = victim.sign_in(ALICE, ALICE_PASSWORD).await;

    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_ne!(victim.session_cookie(), Some(planted));
    assert!(has_live_session(&victim).await);
    assert!(
        !has_live_session(&attacker).await,
        "the planted value must not become a session"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let before = {
        browser.login_form().await;
        browser.session_cookie()
    };

    let wrong_password = browser.sign_in(ALICE, "not the password").await;
    let unknown_user = browser.sign_in("mallory", "not the password").await;
    let empty = browser.sign_in(ALICE, "").await;

    for (what, reply) in [
        ("wrong password", &wrong_password),
        ("unknown user", &unknown_user),
        ("empty password", &empty),
    ] {
        assert_eq!(reply.status, 401, "{what}: {}", reply.body);
        assert!(reply.body.contains(FAILED), "{what}: the generic message");
        assert!(
            !reply.body.contains("not the password"),
            "{what}: password echoed"
        );
        assert_eq!(reply.header("location"), None, "{what}");
        assert!(
            Form::try_find(&reply.body, "/login").is_some(),
            "{what}: the form again"
        );
    }
    assert_eq!(browser.session_cookie(), before, "no new session cookie");
    assert_eq!(app.count(Table::Sessions), 0);
    assert!(!has_live_session(&browser).await);
}

#[tokio::test]
async fn login_without_a_valid_csrf_token_is_rejected() {
    let app = TestApp::spawn().await;
    let victim = app.browser();
    let (_, form) = victim.login_form().await;
    let form = form.set("username", ALICE).set("password", ALICE_PASSWORD);
    let other = app.browser();
    let (_, other_form) = other.login_form().await;
    let foreign = other_form.get("csrf_token").expect("csrf").to_string();
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");

    let missing = victim
        .submit(&form.clone().without("csrf_token"), &[])
        .await;
    let wrong = victim
        .submit(&form.clone().set("csrf_token", &foreign), &[])
        .await;
    let empty = victim
        .submit(&form.clone().set("csrf_token", ""), &[])
        .await;
    let no_cookie = cookieless
        .post(app.url("/login"))
        .form(&form.fields)
        .send()
        .await
        .expect("POST");
    let no_cookie = Reply::read(no_cookie).await;

    for (what, reply) in [
        ("missing", missing),
        ("another session's", wrong),
        ("empty", empty),
        ("without any cookie", no_cookie),
    ] {
        assert_eq!(reply.status, 400, "{what} CSRF token: {}", reply.body);
        assert_eq!(reply.header("location"), None, "{what}");
    }
    assert_eq!(app.count(Table::Sessions), 0);
    assert!(!has_live_session(&victim).await);
}

#[tokio::test]
async fn return_to_cannot_send_the_browser_to_another_site() {
    let app = TestApp::spawn().await;
    let origin = url::Url::parse(&app.base).expect("base").origin();

    for target in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "https:evil.example",
        "/authorize?x=1\r\nLocation: https://evil.example",
    ] {
        let browser = app.browser();
        let (_, form) = browser.login_form().await;
        let form = form
            .set("username", ALICE)
            .set("password", ALICE_PASSWORD)
            .set("return_to", target);
        let reply = browser.submit(&form, &[]).await;
        assert_eq!(reply.status, 303, "{target}: {}", reply.body);
        let location = reply.location();
        assert_eq!(
            location.origin(),
            origin,
            "{target} sent the browser to {location}"
        );
    }
}

#[tokio::test]
async fn after_login_the_authorization_resumes() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(WEB);
    let to_login = browser.authorize(&req).await;
    let login_page = browser.get(to_login.location().as_str()).await;
    let form = Form::find(&login_page.body, "/login")
        .set("username", ALICE)
        .set("password", ALICE_PASSWORD);

    let reply = browser.submit(&form, &[]).await;

    assert_eq!(reply.status, 303);
    let back = reply.location();
    assert_eq!(back.path(), "/authorize");
    assert_eq!(query_of(&back).get("state"), Some(&req.state));
}

/// Alice's stored password hash, read from the database.
fn stored_hash(app: &TestApp) -> String {
    let mut conn = app.db.conn().expect("db connection");
    tessera::db::users::find_by_username(&mut conn, ALICE)
        .expect("read alice")
        .expect("alice exists")
        .password_hash
}

#[tokio::test]
async fn a_sign_in_upgrades_a_hash_made_with_other_parameters_and_a_failed_one_does_not() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher, Version};

    let app = TestApp::spawn().await;
    let current = stored_hash(&app);
    assert!(
        current.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
        "new hashes use the 12 MiB OWASP set: {current}"
    );
    // A hash as an earlier release stored it: OWASP's 19 MiB, two-pass set.
    let legacy = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19456, 2, 1, None).expect("params"),
    )
    .hash_password(ALICE_PASSWORD.as_bytes())
    .expect("hash")
    .to_string();
    {
        let mut conn = app.db.conn().expect("db connection");
        let alice = tessera::db::users::find_by_username(&mut conn, ALICE)
            .expect("read alice")
            .expect("alice exists");
        tessera::db::users::set_password_hash(&mut conn, &alice.id, &legacy)
            .expect("store the legacy hash");
    }

    let failed = app.browser().sign_in(ALICE, "not alice's password").await;
    assert_eq!(failed.status, 401, "{}", failed.body);
    assert_eq!(
        stored_hash(&app),
        legacy,
        "a failed sign-in rehashes nothing"
    );

    let signed_in = app.browser().sign_in(ALICE, ALICE_PASSWORD).await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    let upgraded = stored_hash(&app);
    assert_ne!(upgraded, legacy);
    assert!(
        upgraded.starts_with("$argon2id$v=19$m=12288,t=3,p=1$"),
        "{upgraded}"
    );

    // The upgraded hash holds the same password, and is left alone from now on.
    let browser = app.browser();
    assert_eq!(browser.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);
    assert!(has_live_session(&browser).await);
    assert_eq!(stored_hash(&app), upgraded);
    assert_eq!(
        app.browser()
            .sign_in(ALICE, "not alice's password")
            .await
            .status,
        401
    );
}
