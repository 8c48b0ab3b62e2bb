//! The admin console over HTTP: who may see it, its forms (CSRF, 303, bad input that changes
//! nothing), and that a client created in it works.

use crate::admin_support::*;
use crate::browser::Form;
use crate::helpers::{ALICE, ALICE_PASSWORD, ClientAuth, Reply, Table, TestApp, str_field};

const PAGES: &[&str] = &[
    "/admin",
    "/admin/clients",
    "/admin/clients/webapp",
    "/admin/users",
    "/admin/sessions",
    "/admin/keys",
    "/admin/audit",
];

#[tokio::test]
async fn anonymous_visitors_are_sent_to_sign_in_and_non_admins_get_403() {
    let app = TestApp::spawn().await;
    let alice = app.browser();
    assert_eq!(alice.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);

    for page in PAGES {
        let anonymous = app.get(page).await;
        assert_eq!(anonymous.status, 303, "{page}: {}", anonymous.body);
        let location = anonymous.location();
        assert_eq!(location.path(), "/login", "{page}");
        assert_eq!(crate::helpers::query_of(&location)["return_to"], *page);

        let refused = alice.get(page).await;
        assert_eq!(refused.status, 403, "{page} as alice");
        assert!(refused.body.contains("Admins only"), "{}", refused.body);
    }
    // A POST by a non-admin changes nothing, even with her own valid CSRF token.
    let home = alice.get("/").await;
    let csrf = Form::find(&home.body, "/logout")
        .get("csrf_token")
        .expect("csrf")
        .to_string();
    let before = app.count(Table::Sessions);
    let reply = alice
        .post_form("/admin/keys/rotate", &[("csrf_token".into(), csrf)])
        .await;
    assert_eq!(reply.status, 403);
    let mut conn = app.db.conn().expect("db");
    assert_eq!(
        tessera::db::keys::all(&mut conn).expect("keys").len(),
        3,
        "no key was created (one per algorithm at start)"
    );
    assert_eq!(app.count(Table::Sessions), before);
}

#[tokio::test]
async fn signing_in_from_the_console_returns_to_it() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = browser.get("/admin/users").await;
    let login = browser.get(first.location().as_str()).await;
    let form = Form::find(&login.body, "/login")
        .set("username", "admin")
        .set("password", crate::helpers::ADMIN_PASSWORD);
    let reply = browser.submit(&form, &[]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    assert_eq!(reply.header("location"), Some("/admin/users"));
    let page = browser.get("/admin/users").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(ALICE));
}

#[tokio::test]
async fn every_page_renders_for_an_admin() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    for page in PAGES {
        let reply = admin.get(page).await;
        assert_eq!(reply.status, 200, "{page}: {}", reply.body);
        assert!(
            reply
                .header("content-type")
                .unwrap_or("")
                .starts_with("text/html")
        );
        assert!(!reply.body.contains("<script"), "{page} has no script");
    }
    let dashboard = admin.get("/admin").await.body;
    assert!(
        dashboard.contains("signing"),
        "the dashboard lists the signing key"
    );
}

fn secret_on(page: &Reply) -> String {
    let doc = scraper::Html::parse_document(&page.body);
    let sel = scraper::Selector::parse("#secret").expect("selector");
    doc.select(&sel)
        .next()
        .expect("the secret on the page")
        .text()
        .collect()
}

#[tokio::test]
async fn a_client_created_in_the_console_gets_a_secret_once_and_works() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;

    let created = submit_on(
        &admin,
        "/admin/clients",
        "/admin/clients",
        &[
            ("client_id", "billing"),
            ("name", "Billing"),
            ("redirect_uris", "https://billing.example/cb"),
            ("grant_client_credentials", "on"),
            ("scopes", "openid email"),
        ],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let secret = secret_on(&created);
    let cc = [("grant_type", "client_credentials")];
    let token = app.token(ClientAuth::Basic("billing", &secret), &cc).await;
    assert_eq!(token.status, 200, "{}", token.body);
    let page = admin.get("/admin/clients/billing").await;
    assert!(
        !page.body.contains(&secret),
        "the secret is shown only once"
    );

    let saved = submit_on(
        &admin,
        "/admin/clients/billing",
        "/admin/clients/billing",
        &[
            ("name", "Billing 2"),
            (
                "redirect_uris",
                "https://billing.example/cb\nhttps://billing.example/cb2",
            ),
        ],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        saved.header("location"),
        Some("/admin/clients/billing?notice=saved")
    );
    let page = admin.get("/admin/clients/billing?notice=saved").await.body;
    assert!(
        page.contains("Billing 2")
            && page.contains("https://billing.example/cb2")
            && page.contains("Saved.")
    );

    let rotated = submit_on(
        &admin,
        "/admin/clients/billing",
        "/admin/clients/billing/secret",
        &[],
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = secret_on(&rotated);
    assert_eq!(
        app.token(ClientAuth::Basic("billing", &secret), &cc)
            .await
            .status,
        401
    );
    assert_eq!(
        app.token(ClientAuth::Basic("billing", &new_secret), &cc)
            .await
            .status,
        200
    );

    let deleted = submit_on(
        &admin,
        "/admin/clients/billing",
        "/admin/clients/billing/delete",
        &[],
    )
    .await;
    assert_eq!(deleted.status, 303);
    assert_eq!(admin.get("/admin/clients/billing").await.status, 404);
}

#[tokio::test]
async fn console_forms_without_a_valid_csrf_token_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let page = admin.get("/admin/clients").await;
    let form = Form::find(&page.body, "/admin/clients")
        .set("client_id", "sneaky")
        .set("name", "Sneaky")
        .set("redirect_uris", "https://sneaky.example/cb");

    for (what, form) in [
        ("a wrong token", form.clone().set("csrf_token", "forged")),
        ("no token", form.clone().without("csrf_token")),
    ] {
        let reply = admin.submit(&form, &[]).await;
        assert_eq!(reply.status, 400, "{what}: {}", reply.body);
        assert!(reply.body.contains("Form expired"));
    }
    // Another admin browser's token is bound to another cookie.
    let other = admin_browser(&app).await;
    let other_csrf = Form::find(&other.get("/admin/keys").await.body, "/admin/keys/rotate")
        .get("csrf_token")
        .expect("csrf")
        .to_string();
    let reply = admin
        .submit(&form.clone().set("csrf_token", &other_csrf), &[])
        .await;
    assert_eq!(reply.status, 400);
    for action in [
        "/admin/keys/rotate",
        "/admin/users",
        "/admin/clients/webapp/delete",
        "/admin/clients/webapp/secret",
        "/admin/sessions/x/end",
    ] {
        let reply = admin
            .post_form(action, &[("csrf_token".into(), "forged".into())])
            .await;
        assert_eq!(reply.status, 400, "{action}");
    }
    let mut conn = app.db.conn().expect("db");
    assert!(
        tessera::db::clients::find(&mut conn, "sneaky")
            .expect("q")
            .is_none()
    );
    assert!(
        tessera::db::clients::find(&mut conn, "webapp")
            .expect("q")
            .is_some()
    );
    // One key per algorithm, as at start.
    assert_eq!(tessera::db::keys::all(&mut conn).expect("keys").len(), 3);
}

#[tokio::test]
async fn bad_console_input_is_shown_beside_the_form_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;

    let bad = submit_on(
        &admin,
        "/admin/clients",
        "/admin/clients",
        &[
            ("client_id", "oops"),
            ("name", "Oops"),
            ("redirect_uris", "javascript:alert(1)"),
        ],
    )
    .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("class=\"error\""));
    assert!(
        bad.body.contains("value=\"oops\""),
        "the typed values are kept"
    );
    let dup = submit_on(
        &admin,
        "/admin/clients",
        "/admin/clients",
        &[
            ("client_id", "webapp"),
            ("name", "Dup"),
            ("redirect_uris", "https://x.example/cb"),
        ],
    )
    .await;
    assert_eq!(dup.status, 422);
    assert!(dup.body.contains("already exists"));
    let edit = submit_on(
        &admin,
        "/admin/clients/webapp",
        "/admin/clients/webapp",
        &[("redirect_uris", "")],
    )
    .await;
    assert_eq!(edit.status, 422, "{}", edit.body);
    let alice_page = format!("/admin/users/{}", app.alice_id);
    let roles = submit_on(&admin, &alice_page, &alice_page, &[("roles", "bad<role>")]).await;
    assert_eq!(roles.status, 422);
    assert!(!roles.body.contains("bad<role>"), "input is escaped");

    let mut conn = app.db.conn().expect("db");
    assert!(
        tessera::db::clients::find(&mut conn, "oops")
            .expect("q")
            .is_none()
    );
    let webapp = tessera::db::clients::find(&mut conn, "webapp")
        .expect("q")
        .expect("webapp");
    assert_eq!(
        webapp.redirect_uris,
        vec![crate::helpers::WEB_REDIRECT.to_string()]
    );
    assert_eq!(webapp.name, "The webapp app");
}

#[tokio::test]
async fn users_sessions_keys_and_audit_are_managed_from_the_console() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let alice = app.browser();
    assert_eq!(alice.sign_in(ALICE, ALICE_PASSWORD).await.status, 303);

    let created = submit_on(
        &admin,
        "/admin/users",
        "/admin/users",
        &[
            ("username", "frank"),
            ("email", "frank@example.com"),
            ("roles", "auditor"),
            ("groups", "ops"),
        ],
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let password = secret_on(&created);
    assert_eq!(app.browser().sign_in("frank", &password).await.status, 303);

    let alice_page = format!("/admin/users/{}", app.alice_id);
    let saved = submit_on(
        &admin,
        &alice_page,
        &alice_page,
        &[("roles", "admin editor"), ("groups", "staff")],
    )
    .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(
        alice.get("/admin").await.status,
        200,
        "alice is now an admin"
    );

    let disable = admin.get(&alice_page).await;
    let form = Form::find(&disable.body, &format!("{alice_page}/status"));
    let reply = admin.submit(&form, &[("disabled", "yes")]).await;
    assert_eq!(reply.status, 303);
    assert_eq!(
        alice.get("/admin").await.status,
        303,
        "disabling ended her session"
    );
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        401
    );
    let form = Form::find(
        &admin.get(&alice_page).await.body,
        &format!("{alice_page}/status"),
    );
    assert_eq!(admin.submit(&form, &[("disabled", "no")]).await.status, 303);

    let reset = submit_on(
        &admin,
        &alice_page,
        &format!("{alice_page}/password"),
        &[("password", "another fine password")],
    )
    .await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    assert_eq!(
        app.browser()
            .sign_in(ALICE, "another fine password")
            .await
            .status,
        303
    );

    let sessions = admin.get("/admin/sessions").await;
    assert!(sessions.body.contains(ALICE), "{}", sessions.body);
    let before = app.count(Table::Sessions);
    // End frank's session (not the admin's own, which the rest of the test needs).
    let end_form = {
        let doc = scraper::Html::parse_document(&sessions.body);
        let rows = scraper::Selector::parse("tbody tr").expect("selector");
        let form = scraper::Selector::parse("form").expect("selector");
        let row = doc
            .select(&rows)
            .find(|r| r.text().any(|t| t.contains("frank")))
            .expect("frank's session");
        let action = row
            .select(&form)
            .next()
            .expect("an end form")
            .attr("action");
        action.expect("action").to_string()
    };
    let ended = submit_on(&admin, "/admin/sessions", &end_form, &[]).await;
    assert_eq!(ended.status, 303);
    assert_eq!(app.count(Table::Sessions), before - 1);

    let rotated = submit_on(&admin, "/admin/keys", "/admin/keys/rotate", &[]).await;
    assert_eq!(rotated.status, 303);
    let keys = admin.get("/admin/keys?notice=rotated").await.body;
    assert!(
        keys.contains("retired") && keys.contains("signing"),
        "{keys}"
    );

    let audit = admin.get("/admin/audit?q=user.updated").await;
    assert_eq!(audit.status, 200);
    assert!(audit.body.contains("user.updated") && !audit.body.contains("key.rotated"));
    let all = admin.get("/admin/audit").await.body;
    for action in [
        "user.created",
        "user.password_reset",
        "session.ended",
        "key.rotated",
        "user.signed_in",
    ] {
        assert!(all.contains(action), "{action} in the audit log");
    }
    let _ = str_field;
}

#[tokio::test]
async fn a_second_factor_is_required_and_reset_from_the_console() {
    let app = TestApp::spawn().await;
    let admin = admin_browser(&app).await;
    let alice_page = format!("/admin/users/{}", app.alice_id);

    let page = admin.get(&alice_page).await;
    let form = Form::find(&page.body, &format!("{alice_page}/mfa"));
    let reply = admin.submit(&form, &[("required", "yes")]).await;
    assert_eq!(reply.status, 303, "{}", reply.body);
    let mut conn = app.db.conn().expect("db");
    let alice = tessera::db::users::find(&mut conn, &app.alice_id)
        .expect("q")
        .expect("alice");
    assert!(alice.mfa_required);
    tessera::db::mfa::put_unconfirmed(&mut conn, &app.alice_id, "JBSWY3DPEHPK3PXP", 0)
        .expect("a TOTP key");
    drop(conn);

    let reset = submit_on(&admin, &alice_page, &format!("{alice_page}/mfa/reset"), &[]).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    let mut conn = app.db.conn().expect("db");
    let left = tessera::db::mfa::credential(&mut conn, &app.alice_id).expect("query");
    assert!(left.is_none(), "the TOTP key was removed");
}
