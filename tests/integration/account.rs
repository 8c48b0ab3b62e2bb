//! `/account` over HTTP: only for a signed-in person, CSRF on every form, password change with
//! the policy, ending sessions, removing an app's access (and its refresh tokens), and turning
//! two-step verification off or making new recovery codes.

use crate::browser::{Browser, Form};
use crate::helpers::{ALICE, ALICE_PASSWORD, Table, TestApp, WEB, str_field};
use crate::login::has_live_session;
use crate::mfa::{after_password, enrol_alice, send_code, signed_in_alice, step_now, totp_code};

async fn account_page(browser: &Browser) -> String {
    let page = browser.get("/account").await;
    assert_eq!(page.status, 200, "account page: {}", page.body);
    page.body
}

/// Submits the first form posting to `action` on the account page, with fields set.
async fn post_account(
    browser: &Browser,
    action: &str,
    fields: &[(&str, &str)],
) -> crate::helpers::Reply {
    let body = account_page(browser).await;
    let mut form = Form::find(&body, action);
    for (k, v) in fields {
        form = form.set(k, v);
    }
    browser.submit(&form, &[]).await
}

#[tokio::test]
async fn account_pages_need_a_session() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let page = browser.get("/account").await;
    assert_eq!(page.status, 303);
    let to = page.location();
    assert_eq!(to.path(), "/login");
    assert_eq!(crate::helpers::query_of(&to)["return_to"], "/account");

    // A form posted without a session changes nothing.
    let (_, login) = browser.login_form().await;
    let csrf = login.get("csrf_token").expect("csrf").to_string();
    for action in [
        "/account/password",
        "/account/sessions/end",
        "/account/apps/revoke",
        "/account/mfa/setup",
        "/account/mfa/confirm",
        "/account/mfa/recovery",
        "/account/mfa/disable",
    ] {
        let fields = vec![
            ("csrf_token".to_string(), csrf.clone()),
            ("current_password".into(), ALICE_PASSWORD.into()),
            ("new_password".into(), "a brand new passphrase".into()),
            ("confirm_password".into(), "a brand new passphrase".into()),
            ("others".into(), "yes".into()),
        ];
        let reply = browser.post_form(action, &fields).await;
        assert_eq!(reply.status, 303, "{action}: {}", reply.body);
        assert_eq!(reply.location().path(), "/login", "{action}");
    }
    assert_eq!(
        browser.sign_in(ALICE, ALICE_PASSWORD).await.status,
        303,
        "password unchanged"
    );

    // After signing in, the login page brings the person back to /account.
    let reply = browser.get("/account").await;
    assert_eq!(reply.status, 200);
}

#[tokio::test]
async fn every_account_form_needs_its_csrf_token() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let browser = &enrolled.browser;
    let body = account_page(browser).await;
    for action in [
        "/account/password",
        "/account/sessions/end",
        "/account/mfa/recovery",
        "/account/mfa/disable",
    ] {
        let form = Form::find(&body, action)
            .set("current_password", ALICE_PASSWORD)
            .set("new_password", "a brand new passphrase")
            .set("confirm_password", "a brand new passphrase")
            .set("code", ALICE_PASSWORD);
        for bad in [
            form.clone().without("csrf_token"),
            form.clone().set("csrf_token", "x"),
        ] {
            let reply = browser.submit(&bad, &[]).await;
            assert_eq!(reply.status, 400, "{action}: {}", reply.body);
            assert!(reply.body.contains("Form expired"), "{action}");
        }
    }
    // Forms that are not on the page now: setup, confirm, revoke.
    for action in [
        "/account/mfa/setup",
        "/account/mfa/confirm",
        "/account/apps/revoke",
    ] {
        let fields = vec![
            ("code".to_string(), "123456".to_string()),
            ("client_id".into(), WEB.into()),
        ];
        let reply = browser.post_form(action, &fields).await;
        assert_eq!(reply.status, 400, "{action}: {}", reply.body);
    }
    // Nothing changed: MFA is still on and the password still works.
    assert!(
        account_page(browser)
            .await
            .contains("10 of 10 recovery codes left")
    );
    assert_eq!(after_password(&app).await.get("/mfa").await.status, 200);
}

#[tokio::test]
async fn changing_the_password_checks_the_current_one_and_the_policy() {
    let app = TestApp::spawn().await;
    let browser = signed_in_alice(&app).await;
    let other = signed_in_alice(&app).await;
    let new = "a brand new passphrase";
    let cases: [(&str, &str, &str, u16, &str); 6] = [
        (
            "wrong current",
            new,
            new,
            401,
            "current password is not correct",
        ),
        (
            ALICE_PASSWORD,
            "too short",
            "too short",
            400,
            "at least 12 characters",
        ),
        (
            ALICE_PASSWORD,
            "qwerty123456",
            "qwerty123456",
            400,
            "most commonly used",
        ),
        (
            ALICE_PASSWORD,
            "alice@example.com",
            "alice@example.com",
            400,
            "email address",
        ),
        (ALICE_PASSWORD, "Alice", "Alice", 400, "at least 12"),
        (
            ALICE_PASSWORD,
            new,
            "something else entirely",
            400,
            "do not match",
        ),
    ];
    for (current, password, again, status, message) in cases {
        let reply = post_account(
            &browser,
            "/account/password",
            &[
                ("current_password", current),
                ("new_password", password),
                ("confirm_password", again),
            ],
        )
        .await;
        assert_eq!(reply.status, status, "{message}: {}", reply.body);
        assert!(reply.body.contains(message), "{message}: {}", reply.body);
    }
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        303,
        "unchanged"
    );

    let reply = post_account(
        &browser,
        "/account/password",
        &[
            ("current_password", ALICE_PASSWORD),
            ("new_password", new),
            ("confirm_password", new),
        ],
    )
    .await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/account?done=password"));
    let page = browser.get("/account?done=password").await;
    assert!(
        page.body.contains("Your password was changed"),
        "{}",
        page.body
    );
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        401,
        "old one refused"
    );
    assert_eq!(
        app.browser().sign_in(ALICE, new).await.status,
        303,
        "new one works"
    );
    assert!(has_live_session(&browser).await, "this session stays");
    assert!(!has_live_session(&other).await, "other sessions end");
}

#[tokio::test]
async fn a_person_sees_and_ends_their_sessions() {
    let app = TestApp::spawn().await;
    let browser = signed_in_alice(&app).await;
    let laptop = signed_in_alice(&app).await;
    let phone = signed_in_alice(&app).await;
    let body = account_page(&browser).await;
    assert!(body.contains("(this browser)"));
    let page = scraper::Html::parse_document(&body);
    let sel = scraper::Selector::parse("input[name=sid]").expect("selector");
    let sids: Vec<String> = page
        .select(&sel)
        .filter_map(|e| e.attr("value").map(str::to_string))
        .collect();
    assert_eq!(sids.len(), 3, "three sessions listed");

    // End one other session by its sid: exactly one of the other browsers is signed out.
    let current_sid = {
        let forms: Vec<_> = body
            .split("<li>")
            .filter(|li| li.contains("(this browser)"))
            .collect();
        let li = forms.first().expect("the current session's row");
        let start = li.find("name=\"sid\" value=\"").expect("sid") + 18;
        li[start..start + 32].to_string()
    };
    let target = sids
        .iter()
        .find(|s| **s != current_sid)
        .expect("another sid");
    let fields = vec![
        ("csrf_token".to_string(), browser.session_csrf(&body)),
        ("sid".into(), target.clone()),
    ];
    let reply = browser.post_form("/account/sessions/end", &fields).await;
    assert_eq!(
        reply.header("location"),
        Some("/account?done=session"),
        "{}",
        reply.body
    );
    let live = [
        has_live_session(&laptop).await,
        has_live_session(&phone).await,
    ];
    assert_eq!(
        live.iter().filter(|l| **l).count(),
        1,
        "one other session ended"
    );

    // Someone else's or an unknown sid ends nothing.
    let reply = browser
        .post_form(
            "/account/sessions/end",
            &[
                ("csrf_token".to_string(), browser.session_csrf(&body)),
                ("sid".into(), target.clone()),
            ],
        )
        .await;
    assert_eq!(reply.status, 404);

    for _ in 0..2 {
        let reply = post_account(&browser, "/account/sessions/end", &[("others", "yes")]).await;
        assert_eq!(
            reply.header("location"),
            Some("/account?done=sessions"),
            "{}",
            reply.body
        );
    }
    let reply = browser.get("/account?done=sessions").await;
    assert_eq!(reply.status, 200, "still signed in");
    assert!(!has_live_session(&laptop).await && !has_live_session(&phone).await);
    assert!(has_live_session(&browser).await);
}

#[tokio::test]
async fn removing_an_apps_access_revokes_its_consent_and_refresh_tokens() {
    let app = TestApp::spawn().await;
    let (browser, tokens) = app.tokens_for(WEB, "openid profile offline_access").await;
    let refresh = str_field(&tokens, "refresh_token");
    let access = str_field(&tokens, "access_token");
    let body = account_page(&browser).await;
    assert!(body.contains("The webapp app"), "the app is listed by name");
    assert!(body.contains("Stay signed in"), "with what it may do");

    let reply = post_account(&browser, "/account/apps/revoke", &[]).await;
    assert_eq!(
        reply.header("location"),
        Some("/account?done=app"),
        "{}",
        reply.body
    );
    assert_eq!(app.count(Table::Consents), 0);
    app.refresh(app.basic(WEB), &refresh)
        .await
        .assert_oauth_error(400, "invalid_grant", "refresh after removal");
    app.userinfo(&access)
        .await
        .assert_invalid_token("access token after removal");
    assert!(
        account_page(&browser)
            .await
            .contains("No application has access")
    );

    // Removing it again says so and changes nothing.
    let fields = vec![
        ("csrf_token".to_string(), browser.session_csrf(&body)),
        ("client_id".into(), WEB.into()),
    ];
    assert_eq!(
        browser
            .post_form("/account/apps/revoke", &fields)
            .await
            .status,
        404
    );
}

#[tokio::test]
async fn two_step_verification_can_be_turned_off_with_a_code_or_the_password() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let browser = &enrolled.browser;

    let reply = post_account(
        browser,
        "/account/mfa/disable",
        &[("code", "not my password")],
    )
    .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(
        reply
            .body
            .contains("neither a current code nor your password")
    );

    let reply = post_account(browser, "/account/mfa/disable", &[("code", ALICE_PASSWORD)]).await;
    assert_eq!(
        reply.header("location"),
        Some("/account?done=mfa-off"),
        "{}",
        reply.body
    );
    assert_eq!(
        app.browser()
            .sign_in(ALICE, ALICE_PASSWORD)
            .await
            .header("location"),
        Some("/")
    );

    // On again, then off with a current code.
    let enrolled = enrol_alice(&app).await;
    let code = totp_code(&enrolled.secret, step_now().max(enrolled.step + 1));
    let reply = post_account(
        &enrolled.browser,
        "/account/mfa/disable",
        &[("code", &code)],
    )
    .await;
    assert_eq!(
        reply.header("location"),
        Some("/account?done=mfa-off"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn mandatory_two_step_verification_cannot_be_turned_off() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let mut conn = app.db.conn().expect("db");
    tessera::manage::set_mfa_required(&mut conn, ALICE, true).expect("flag");
    drop(conn);
    let body = account_page(&enrolled.browser).await;
    assert!(body.contains("cannot be turned off"));
    let fields = vec![
        (
            "csrf_token".to_string(),
            enrolled.browser.session_csrf(&body),
        ),
        ("code".into(), ALICE_PASSWORD.into()),
    ];
    let reply = enrolled
        .browser
        .post_form("/account/mfa/disable", &fields)
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(
        after_password(&app).await.get("/mfa").await.status,
        200,
        "still on"
    );
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones() {
    let app = TestApp::spawn().await;
    let enrolled = enrol_alice(&app).await;
    let reply = post_account(&enrolled.browser, "/account/mfa/recovery", &[]).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body.contains("Save your recovery codes"));
    assert!(!reply.body.contains(&enrolled.recovery[0]), "new codes");

    let browser = after_password(&app).await;
    assert_eq!(
        send_code(&browser, &enrolled.recovery[0]).await.status,
        401,
        "old code"
    );
}
