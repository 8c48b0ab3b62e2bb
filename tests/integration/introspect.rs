//! Introspection (RFC 7662) and revocation (RFC 7009).

use serde_json::json;

use crate::forge::{claims_of, forgeries_of};
use crate::helpers::{ClientAuth, PORTAL, SPA, Table, TestApp, WEB, str_field};

#[tokio::test]
async fn introspection_describes_an_active_access_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid profile").await;
    let access = str_field(&tokens, "access_token");
    let claims = claims_of(&access);

    let reply = app.introspect(app.basic(PORTAL), &access).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["sub"], json!(app.alice_id));
    assert_eq!(body["client_id"], json!(PORTAL));
    assert_eq!(body["scope"], claims["scope"]);
    assert_eq!(body["exp"], claims["exp"]);
    assert_eq!(body["iat"], claims["iat"]);
    assert_eq!(body["iss"], json!(app.issuer));
    assert!(body["token_type"].is_string(), "token_type in {body}");
}

#[tokio::test]
async fn introspection_describes_an_active_refresh_token() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;

    let reply = app
        .introspect(app.basic(PORTAL), &str_field(&tokens, "refresh_token"))
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let body = reply.json();
    assert_eq!(body["active"], json!(true));
    assert_eq!(body["client_id"], json!(PORTAL));
    assert_eq!(body["sub"], json!(app.alice_id));
}

#[tokio::test]
async fn introspection_requires_an_authenticated_confidential_client() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = str_field(&tokens, "access_token");
    let wrong = "y".repeat(43);

    let anonymous = app.introspect(ClientAuth::Anonymous, &access).await;
    let wrong_secret = app
        .introspect(ClientAuth::Basic(PORTAL, &wrong), &access)
        .await;
    let public = app.introspect(ClientAuth::Public(SPA), &access).await;

    anonymous.assert_oauth_error(401, "invalid_client", "no client");
    wrong_secret.assert_oauth_error(401, "invalid_client", "wrong secret");
    assert!(
        public.status == 401 || public.status == 400,
        "public client: {} {}",
        public.status,
        public.body
    );
    for reply in [anonymous, wrong_secret, public] {
        assert!(!reply.body.contains("\"active\""), "{}", reply.body);
    }
}

#[tokio::test]
async fn forged_tokens_are_inactive_at_introspection() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let genuine = str_field(&tokens, "access_token");

    for (what, forged) in forgeries_of(&app, &genuine, "at+jwt").await {
        let reply = app.introspect(app.basic(PORTAL), &forged).await;
        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        assert_eq!(reply.json(), json!({"active": false}), "{what}");
    }
}

#[tokio::test]
async fn revoking_an_access_token_makes_it_inactive() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let refresh = str_field(&tokens, "refresh_token");

    let reply = app.revoke(app.basic(PORTAL), &access).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(!app.is_active(PORTAL, &access).await);
    app.userinfo(&access).await.assert_invalid_token("revoked");
    assert_eq!(app.count(Table::RevokedAccessTokens), 1);
    assert!(
        app.is_active(PORTAL, &refresh).await,
        "revoking an access token spares the refresh token"
    );
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_family() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let r1 = str_field(&tokens, "refresh_token");
    let rotated = app.refresh(app.basic(PORTAL), &r1).await;
    let r2 = str_field(&rotated.json(), "refresh_token");

    let reply = app.revoke(app.basic(PORTAL), &r2).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    app.refresh(app.basic(PORTAL), &r2)
        .await
        .assert_oauth_error(400, "invalid_grant", "revoked refresh token");
    assert!(!app.is_active(PORTAL, &r2).await);
}

#[tokio::test]
async fn a_public_client_revokes_its_own_refresh_token_with_its_client_id() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(SPA, "openid offline_access").await;
    let refresh = str_field(&tokens, "refresh_token");

    let reply = app.revoke(ClientAuth::Public(SPA), &refresh).await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    app.refresh(ClientAuth::Public(SPA), &refresh)
        .await
        .assert_oauth_error(400, "invalid_grant", "revoked by the public client");
}

#[tokio::test]
async fn revoking_unknown_or_forged_tokens_answers_200() {
    let app = TestApp::spawn().await;

    let unknown = app.revoke(app.basic(PORTAL), "no-such-token").await;
    let jwt_like = app
        .revoke(app.basic(PORTAL), "eyJhbGciOiJub25lIn0.e30.")
        .await;

    assert_eq!(unknown.status, 200, "{}", unknown.body);
    assert_eq!(jwt_like.status, 200, "{}", jwt_like.body);
    assert_eq!(app.count(Table::RevokedAccessTokens), 0);
}

#[tokio::test]
async fn revocation_requires_client_authentication_and_ownership() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let access = str_field(&tokens, "access_token");
    let refresh = str_field(&tokens, "refresh_token");
    let wrong = "z".repeat(43);

    let wrong_secret = app
        .revoke(ClientAuth::Basic(PORTAL, &wrong), &refresh)
        .await;
    let anonymous = app.revoke(ClientAuth::Anonymous, &access).await;
    let other_client_refresh = app.revoke(app.basic(WEB), &refresh).await;
    let other_client_access = app.revoke(app.basic(WEB), &access).await;

    wrong_secret.assert_oauth_error(401, "invalid_client", "wrong secret");
    anonymous.assert_oauth_error(401, "invalid_client", "no client");
    assert!(
        other_client_refresh.status < 500,
        "{}",
        other_client_refresh.body
    );
    assert!(
        other_client_access.status < 500,
        "{}",
        other_client_access.body
    );
    assert!(
        app.is_active(PORTAL, &refresh).await,
        "another client cannot revoke it"
    );
    assert!(
        app.is_active(PORTAL, &access).await,
        "another client cannot revoke it"
    );
}

#[tokio::test]
async fn repeated_token_parameter_is_invalid_request() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid").await;
    let access = str_field(&tokens, "access_token");
    let form = [("token", access.as_str()), ("token", "other")];

    let introspect = app
        .post_authenticated("/introspect", app.basic(PORTAL), &form)
        .await;
    let revoke = app
        .post_authenticated("/revoke", app.basic(PORTAL), &form)
        .await;

    introspect.assert_oauth_error(400, "invalid_request", "introspect, repeated token");
    revoke.assert_oauth_error(400, "invalid_request", "revoke, repeated token");
    assert!(app.is_active(PORTAL, &access).await);
}
