//! The `roles` scope: roles and groups in access tokens, ID tokens and userinfo.

use serde_json::json;

use crate::admin_support::*;
use crate::helpers::{ALICE, ALICE_PASSWORD, TestApp, str_field};

#[tokio::test]
async fn roles_and_groups_reach_tokens_and_userinfo_only_with_the_roles_scope() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let set = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{}", app.alice_id),
        Some(&t),
        Some(json!({"roles": ["editor", "billing"], "groups": ["staff"]})),
    )
    .await;
    assert_eq!(set.status, 200, "{}", set.body);
    let secret = register_tool(&app);

    let tokens = person_tokens(&app, &secret, ALICE, ALICE_PASSWORD, "openid profile roles").await;
    let access = str_field(&tokens, "access_token");
    let (_, at) = app.verify_jwt(&access, Some(TOOL)).await;
    let (_, id) = app
        .verify_jwt(&str_field(&tokens, "id_token"), Some(TOOL))
        .await;
    let info = app.userinfo(&access).await.json();
    for (what, claims) in [
        ("access token", &at),
        ("ID token", &id),
        ("userinfo", &info),
    ] {
        assert_eq!(
            claims["roles"],
            json!(["billing", "editor"]),
            "{what}: {claims}"
        );
        assert_eq!(claims["groups"], json!(["staff"]), "{what}");
    }

    let plain = person_tokens(&app, &secret, ALICE, ALICE_PASSWORD, "openid profile").await;
    let access = str_field(&plain, "access_token");
    let (_, at) = app.verify_jwt(&access, Some(TOOL)).await;
    let (_, id) = app
        .verify_jwt(&str_field(&plain, "id_token"), Some(TOOL))
        .await;
    let info = app.userinfo(&access).await.json();
    for (what, claims) in [
        ("access token", &at),
        ("ID token", &id),
        ("userinfo", &info),
    ] {
        assert!(
            claims.get("roles").is_none() && claims.get("groups").is_none(),
            "{what}: {claims}"
        );
    }
}

#[tokio::test]
async fn admins_carry_the_admin_role_and_clients_not_allowed_roles_cannot_ask_for_it() {
    let app = TestApp::spawn().await;
    let secret = register_tool(&app);
    let tokens = person_tokens(
        &app,
        &secret,
        "admin",
        crate::helpers::ADMIN_PASSWORD,
        "openid roles tessera:admin",
    )
    .await;
    assert_eq!(str_field(&tokens, "scope"), "openid roles tessera:admin");
    let (_, at) = app
        .verify_jwt(&str_field(&tokens, "access_token"), Some(TOOL))
        .await;
    assert_eq!(at["roles"], json!(["admin"]));
    assert_eq!(at["groups"], json!([]));

    // The fixture clients were registered with the default scopes, which leave `roles` out.
    let browser = app.browser();
    let req = crate::browser::AuthRequest::for_client(crate::helpers::PORTAL).scope("openid roles");
    let reply = browser.authorize(&req).await;
    let callback = browser.drive(reply, "allow").await;
    assert_eq!(
        crate::helpers::query_of(&callback)
            .get("error")
            .map(String::as_str),
        Some("invalid_scope")
    );

    let discovery = app.get("/.well-known/openid-configuration").await.json();
    let scopes = discovery["scopes_supported"].as_array().expect("scopes");
    assert!(scopes.contains(&json!("roles")), "{discovery}");
    assert!(
        discovery["claims_supported"]
            .as_array()
            .expect("claims")
            .contains(&json!("roles"))
    );
}
