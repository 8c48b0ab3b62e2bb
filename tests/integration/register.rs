//! `/register`: off by default (404 with a readable page), and when open, the password policy
//! and the username and email rules, each failure with its own message.

use crate::browser::{Browser, Form};
use crate::helpers::{ALICE, Reply, TestApp};

async fn register(browser: &Browser, fields: &[(&str, &str)]) -> Reply {
    let page = browser.get("/register").await;
    assert_eq!(page.status, 200, "register page: {}", page.body);
    let mut form = Form::find(&page.body, "/register");
    for (k, v) in fields {
        form = form.set(k, v);
    }
    browser.submit(&form, &[]).await
}

fn person<'a>(username: &'a str, email: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("username", username),
        ("email", email),
        ("password", password),
        ("confirm_password", password),
    ]
}

#[tokio::test]
async fn registration_is_off_by_default() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let (login, _) = browser.login_form().await;
    assert!(
        !login.body.contains("/register"),
        "no link while registration is off"
    );
    let page = browser.get("/register").await;
    assert_eq!(page.status, 404);
    assert!(
        page.body.contains("Registration is closed"),
        "{}",
        page.body
    );
    let (_, login) = browser.login_form().await;
    let mut fields: Vec<(String, String)> =
        person("eve", "eve@example.com", "a long enough password")
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    fields.push((
        "csrf_token".into(),
        login.get("csrf_token").unwrap_or("").into(),
    ));
    let reply = browser.post_form("/register", &fields).await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        browser
            .sign_in("eve", "a long enough password")
            .await
            .status,
        401,
        "no account"
    );
}

#[tokio::test]
async fn an_open_registration_creates_an_account_that_signs_in() {
    let app = TestApp::spawn_with_env(&[("TESSERA_REGISTRATION", "open")]).await;
    let browser = app.browser();
    let (login, _) = browser.login_form().await;
    assert!(
        login.body.contains("href=\"/register\""),
        "the sign-in page offers it"
    );
    let mut fields = person("eve", "eve@example.com", "a long enough password");
    fields.push(("name", "Eve Example"));
    let reply = register(&browser, &fields).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("Your account is ready"));
    assert_eq!(
        app.browser()
            .sign_in("eve", "a long enough password")
            .await
            .status,
        303
    );
}

#[tokio::test]
async fn each_registration_failure_has_its_message() {
    let app = TestApp::spawn_with_env(&[("TESSERA_REGISTRATION", "open")]).await;
    let browser = app.browser();
    let good = "a long enough password";
    let cases = [
        (
            person("eve", "eve@example.com", "short"),
            400,
            "at least 12 characters",
        ),
        (
            person("eve", "eve@example.com", "qwerty123456"),
            400,
            "most commonly used",
        ),
        (
            person("eve.example.com", "x@example.com", "eve.example.com"),
            400,
            "same as the username",
        ),
        (
            person("eve", "eve@example.com", "Eve@Example.com"),
            400,
            "same as the email address",
        ),
        (
            person("eve smith", "eve@example.com", good),
            400,
            "A username is 1 to 64 characters",
        ),
        (
            person("eve", "not-an-email", good),
            400,
            "An email address looks like",
        ),
        (
            person(ALICE, "other@example.com", good),
            409,
            "already taken",
        ),
    ];
    for (fields, status, message) in cases {
        let reply = register(&browser, &fields).await;
        assert_eq!(reply.status, status, "{message}: {}", reply.body);
        assert!(reply.body.contains(message), "{message}: {}", reply.body);
        assert!(
            !reply.body.contains("qwerty123456"),
            "the password is not echoed"
        );
    }
    let mut mismatch = person("eve", "eve@example.com", good);
    mismatch[3] = ("confirm_password", "another long password");
    let reply = register(&browser, &mismatch).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("do not match"));

    // The duplicate answer does not say anything about the existing account.
    let reply = register(&browser, &person(ALICE, "other@example.com", good)).await;
    assert!(!reply.body.contains("alice@example.com"));

    // The CSRF token is required.
    let mut form =
        Form::find(&browser.get("/register").await.body, "/register").without("csrf_token");
    for (k, v) in person("eve", "eve@example.com", good) {
        form = form.set(k, v);
    }
    let reply = browser.submit(&form, &[]).await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("Form expired"));
    assert_eq!(
        app.browser().sign_in("eve", good).await.status,
        401,
        "nothing was created"
    );
}
