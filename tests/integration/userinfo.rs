//! The userinfo endpoint: claims by scope, and every way a bearer token may be refused
//! (RFC 6750 3, SECURITY.md "Token verification").

use serde_json::json;

use crate::forge::forgeries_of;
use crate::helpers::{ALICE, ALICE_EMAIL, ALICE_NAME, PORTAL, TestApp};

fn access_of(tokens: &serde_json::Value) -> String {
    tokens["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn userinfo_answers_get_and_post_with_claims_by_scope() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid profile email").await;
    let access = access_of(&tokens);

    let get = app.userinfo(&access).await;
    let post = app
        .api
        .post(app.url("/userinfo"))
        .bearer_auth(&access)
        .send()
        .await
        .expect("POST /userinfo");
    let post = crate::helpers::Reply::read(post).await;

    assert_eq!(get.status, 200, "{}", get.body);
    assert_eq!(post.status, 200, "{}", post.body);
    let expected = json!({
        "sub": app.alice_id,
        "name": ALICE_NAME,
        "preferred_username": ALICE,
        "email": ALICE_EMAIL,
        "email_verified": false,
    });
    for (what, reply) in [("GET", get), ("POST", post)] {
        let body = reply.json();
        for (k, v) in expected.as_object().expect("object") {
            assert_eq!(&body[k], v, "{what}: `{k}`");
        }
    }
}

#[tokio::test]
async fn userinfo_without_a_token_gets_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;

    let reply = app.get("/userinfo").await;

    assert_eq!(reply.status, 401, "{}", reply.body);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "challenge `{challenge}`");
}

#[tokio::test]
async fn malformed_authorization_headers_get_401_not_500() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = access_of(&tokens);

    for header in [
        "Bearer".to_string(),
        "Bearer ".to_string(),
        format!("Basic {access}"),
        format!("Bearer {access} extra"),
        format!("Bearer {}", "a".repeat(20_000)),
    ] {
        let reply = app
            .api
            .get(app.url("/userinfo"))
            .header("authorization", &header)
            .send()
            .await
            .expect("GET /userinfo");
        let status = reply.status().as_u16();
        let shown: String = header.chars().take(30).collect();
        assert!(status == 401 || status == 400, "`{shown}…` gave {status}");
    }
}

#[tokio::test]
async fn forged_access_tokens_are_rejected_at_userinfo() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid profile email").await;
    let genuine = access_of(&tokens);

    for (what, forged) in forgeries_of(&app, &genuine, "at+jwt").await {
        let reply = app.userinfo(&forged).await;
        reply.assert_invalid_token(&what);
        assert!(!reply.body.contains(ALICE_EMAIL), "{what}: leaked claims");
    }
    assert_eq!(
        app.userinfo(&genuine).await.status,
        200,
        "the genuine token works"
    );
}

#[tokio::test]
async fn an_id_token_is_not_an_access_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid profile email").await;
    let id_token = tokens["id_token"].as_str().expect("id_token");

    let reply = app.userinfo(id_token).await;

    reply.assert_invalid_token("ID token as bearer token");
}

#[tokio::test]
async fn a_revoked_access_token_is_rejected() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = access_of(&tokens);
    let revoked = app.revoke(app.basic(PORTAL), &access).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);

    let reply = app.userinfo(&access).await;

    reply.assert_invalid_token("revoked access token");
}

/// A token of a person who was disabled behind the server's back (a database edit: disabling
/// through Tessera also revokes their tokens) gets nothing from userinfo; once they are enabled
/// again, the same token answers. A revoked token of an enabled person stays refused.
#[tokio::test]
async fn a_token_of_a_disabled_person_is_rejected_until_they_are_enabled() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = access_of(&tokens);

    app.set_alice_disabled_in_the_database(true);
    app.userinfo(&access)
        .await
        .assert_invalid_token("a disabled person's token");

    app.set_alice_disabled_in_the_database(false);
    let again = app.userinfo(&access).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["sub"], json!(app.alice_id));

    let revoked = app.revoke(app.basic(PORTAL), &access).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    app.userinfo(&access)
        .await
        .assert_invalid_token("a revoked token of an enabled person");
}

#[tokio::test]
async fn an_access_token_in_the_query_string_is_not_accepted() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid email").await;
    let access = access_of(&tokens);

    let reply = app.get(&format!("/userinfo?access_token={access}")).await;

    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(!reply.body.contains(ALICE_EMAIL));
}
