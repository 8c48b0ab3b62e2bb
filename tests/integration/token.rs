//! The token endpoint: client authentication, codes (single use, bound, PKCE), refresh token
//! rotation and scope, client credentials, and malformed requests.

use serde_json::json;

use crate::browser::AuthRequest;
use crate::forge::claims_of;
use crate::helpers::{
    ClientAuth, NOREFRESH, PORTAL, PORTAL_REDIRECT, SERVICE, SPA, Table, TestApp, WEB,
    WEB_REDIRECT, str_field,
};

/// A code for alice and the web app, with the request that produced it.
async fn web_code(app: &TestApp, req: &AuthRequest) -> String {
    web_codes(app, req, 1).await.remove(0)
}

/// `n` codes from the same request, by one browser (consent is remembered after the first).
async fn web_codes(app: &TestApp, req: &AuthRequest, n: usize) -> Vec<String> {
    let browser = app.browser();
    let mut codes = vec![];
    for _ in 0..n {
        codes.push(browser.code_for(app, req).await["code"].clone());
    }
    codes
}

#[tokio::test]
async fn code_replay_is_rejected_and_revokes_the_tokens_it_issued() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let code = web_code(&app, &req).await;
    let first = app
        .redeem(app.basic(WEB), &code, WEB_REDIRECT, req.verifier())
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let tokens = first.json();
    let (access, refresh) = (
        str_field(&tokens, "access_token"),
        str_field(&tokens, "refresh_token"),
    );
    assert_eq!(app.userinfo(&access).await.status, 200);

    let replay = app
        .redeem(app.basic(WEB), &code, WEB_REDIRECT, req.verifier())
        .await;

    replay.assert_oauth_error(400, "invalid_grant", "code replay");
    assert!(replay.json().get("access_token").is_none());
    assert!(
        !replay.body.contains(&code),
        "the error body never echoes the code"
    );
    app.userinfo(&access)
        .await
        .assert_invalid_token("access token of a replayed code");
    app.refresh(app.basic(WEB), &refresh)
        .await
        .assert_oauth_error(400, "invalid_grant", "refresh token of a replayed code");
    assert!(!app.is_active(WEB, &access).await);
    assert!(!app.is_active(WEB, &refresh).await);
}

#[tokio::test]
async fn code_is_bound_to_its_client_and_redirect_uri() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let code = web_code(&app, &req).await;

    let other_client = app
        .redeem(app.basic(PORTAL), &code, WEB_REDIRECT, req.verifier())
        .await;
    let other_redirect = app
        .redeem(app.basic(WEB), &code, PORTAL_REDIRECT, req.verifier())
        .await;
    let unknown = app
        .redeem(app.basic(WEB), "not-a-code", WEB_REDIRECT, req.verifier())
        .await;

    other_client.assert_oauth_error(400, "invalid_grant", "code of another client");
    other_redirect.assert_oauth_error(400, "invalid_grant", "another redirect_uri");
    unknown.assert_oauth_error(400, "invalid_grant", "unknown code");
    assert_eq!(app.count(Table::RefreshTokens), 0);
}

#[tokio::test]
async fn pkce_wrong_or_missing_verifier_is_invalid_grant() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let codes = web_codes(&app, &req, 3).await;

    let wrong = app
        .redeem(
            app.basic(WEB),
            &codes[0],
            WEB_REDIRECT,
            Some(&crate::browser::random_string()),
        )
        .await;
    let challenge_as_verifier = app
        .redeem(
            app.basic(WEB),
            &codes[1],
            WEB_REDIRECT,
            Some(&crate::browser::s256(req.verifier().expect("verifier"))),
        )
        .await;
    let missing = app
        .redeem(app.basic(WEB), &codes[2], WEB_REDIRECT, None)
        .await;

    wrong.assert_oauth_error(400, "invalid_grant", "wrong verifier");
    challenge_as_verifier.assert_oauth_error(400, "invalid_grant", "the challenge as verifier");
    missing.assert_oauth_error(400, "invalid_grant", "missing verifier");
    assert_eq!(app.count(Table::RefreshTokens), 0);
}

#[tokio::test]
async fn pkce_verifier_without_a_challenge_is_rejected_as_a_downgrade() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB).without_pkce();
    let code = web_code(&app, &req).await;

    let reply = app
        .redeem(
            app.basic(WEB),
            &code,
            WEB_REDIRECT,
            Some(&crate::browser::random_string()),
        )
        .await;

    reply.assert_oauth_error(400, "invalid_grant", "verifier without challenge");
    assert_eq!(app.count(Table::RefreshTokens), 0);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(WEB, "openid profile offline_access").await;
    let r1 = str_field(&tokens, "refresh_token");
    let second = app.refresh(app.basic(WEB), &r1).await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert_eq!(second.header("cache-control"), Some("no-store"));
    let r2 = str_field(&second.json(), "refresh_token");
    assert_ne!(r1, r2);

    let reuse = app.refresh(app.basic(WEB), &r1).await;
    let newest = app.refresh(app.basic(WEB), &r2).await;

    reuse.assert_oauth_error(400, "invalid_grant", "reused refresh token");
    newest.assert_oauth_error(400, "invalid_grant", "newest token of a revoked family");
    assert!(!app.is_active(WEB, &r2).await);
}

/// A person disabled behind the server's back (a database edit: disabling through Tessera
/// also revokes their tokens) gets no more tokens from a refresh, and the refused request
/// rotates nothing: once enabled again, the same refresh token still works.
#[tokio::test]
async fn a_refresh_for_a_person_who_is_disabled_is_refused_and_rotates_nothing() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
    let r1 = str_field(&tokens, "refresh_token");

    app.set_alice_disabled_in_the_database(true);
    let refused = app.refresh(app.basic(WEB), &r1).await;
    refused.assert_oauth_error(400, "invalid_grant", "refresh for a disabled person");
    assert!(
        refused.body.contains("no longer allowed"),
        "{}",
        refused.body
    );

    app.set_alice_disabled_in_the_database(false);
    let again = app.refresh(app.basic(WEB), &r1).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_ne!(str_field(&again.json(), "refresh_token"), r1);
}

#[tokio::test]
async fn refresh_cannot_widen_scope_but_may_narrow_it() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(WEB, "openid profile offline_access").await;
    let r1 = str_field(&tokens, "refresh_token");

    let wider = app
        .token(
            app.basic(WEB),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid profile email offline_access"),
            ],
        )
        .await;
    let narrower = app
        .token(
            app.basic(WEB),
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &r1),
                ("scope", "openid offline_access"),
            ],
        )
        .await;

    wider.assert_oauth_error(400, "invalid_scope", "wider scope on refresh");
    assert_eq!(
        narrower.status, 200,
        "the rejected widening changed nothing: {}",
        narrower.body
    );
    let body = narrower.json();
    let mut scope: Vec<&str> = body["scope"].as_str().expect("scope").split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["offline_access", "openid"]);
    let access = claims_of(&str_field(&body, "access_token"));
    let mut granted: Vec<&str> = access["scope"]
        .as_str()
        .expect("scope")
        .split(' ')
        .collect();
    granted.sort();
    assert_eq!(granted, ["offline_access", "openid"]);
}

#[tokio::test]
async fn refresh_token_is_bound_to_its_client() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
    let r1 = str_field(&tokens, "refresh_token");

    let stolen = app.refresh(app.basic(PORTAL), &r1).await;

    stolen.assert_oauth_error(400, "invalid_grant", "refresh token of another client");
    assert!(
        app.is_active(WEB, &r1).await,
        "the owner's token still works"
    );
}

#[tokio::test]
async fn refresh_token_only_with_offline_access_and_the_refresh_grant() {
    let app = TestApp::spawn().await;

    let (_, without_scope) = app.tokens_for(WEB, "openid profile").await;
    let (_, without_grant) = app.tokens_for(NOREFRESH, "openid offline_access").await;

    assert!(
        without_scope.get("refresh_token").is_none(),
        "{without_scope}"
    );
    assert!(
        without_grant.get("refresh_token").is_none(),
        "{without_grant}"
    );
    assert!(without_grant.get("id_token").is_some());
    assert_eq!(app.count(Table::RefreshTokens), 0);
}

#[tokio::test]
async fn wrong_or_missing_client_credentials_get_401_invalid_client() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let code = web_code(&app, &req).await;
    let wrong = "x".repeat(43);
    let v = req.verifier();

    let cases = [
        ("basic, wrong secret", ClientAuth::Basic(WEB, &wrong)),
        ("post, wrong secret", ClientAuth::Post(WEB, &wrong)),
        ("basic, unknown client", ClientAuth::Basic("nobody", &wrong)),
        (
            "confidential client without secret",
            ClientAuth::Public(WEB),
        ),
        ("no client at all", ClientAuth::Anonymous),
    ];
    for (what, auth) in cases {
        let reply = app.redeem(auth, &code, WEB_REDIRECT, v).await;
        reply.assert_oauth_error(401, "invalid_client", what);
        assert!(
            reply.header("www-authenticate").is_some(),
            "{what}: WWW-Authenticate"
        );
    }
    let garbled = app
        .api
        .post(app.url("/token"))
        .header("authorization", "Basic !!!not-base64")
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("POST");
    assert_eq!(garbled.status().as_u16(), 401, "malformed Basic header");
    assert_eq!(app.count(Table::RefreshTokens), 0);
}

#[tokio::test]
async fn client_secret_post_is_accepted() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let code = web_code(&app, &req).await;

    let reply = app
        .redeem(
            ClientAuth::Post(WEB, app.secret(WEB)),
            &code,
            WEB_REDIRECT,
            req.verifier(),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
}

#[tokio::test]
async fn client_credentials_issue_an_access_token_only() {
    let app = TestApp::spawn().await;

    let reply = app
        .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert!(body.get("refresh_token").is_none());
    assert!(body.get("id_token").is_none());
    let access = str_field(&body, "access_token");
    let (header, claims) = app.verify_jwt(&access, Some(SERVICE)).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(claims["sub"], json!(SERVICE));
    assert_eq!(claims["client_id"], json!(SERVICE));
    app.userinfo(&access)
        .await
        .assert_invalid_token("client_credentials token at userinfo");
}

#[tokio::test]
async fn clients_may_use_only_their_registered_grants() {
    let app = TestApp::spawn().await;

    let public_cc = app
        .token(
            ClientAuth::Public(SPA),
            &[("grant_type", "client_credentials")],
        )
        .await;
    let web_cc = app
        .token(app.basic(WEB), &[("grant_type", "client_credentials")])
        .await;
    let service_code = app
        .redeem(app.basic(SERVICE), "some-code", WEB_REDIRECT, None)
        .await;
    let norefresh_refresh = app.refresh(app.basic(NOREFRESH), "some-token").await;

    public_cc.assert_oauth_error(400, "unauthorized_client", "public client_credentials");
    web_cc.assert_oauth_error(400, "unauthorized_client", "web app client_credentials");
    service_code.assert_oauth_error(400, "unauthorized_client", "service code grant");
    norefresh_refresh.assert_oauth_error(400, "unauthorized_client", "refresh not registered");
}

#[tokio::test]
async fn password_and_unknown_grants_are_unsupported() {
    let app = TestApp::spawn().await;

    let password = app
        .token(
            app.basic(WEB),
            &[
                ("grant_type", "password"),
                ("username", "alice"),
                ("password", crate::helpers::ALICE_PASSWORD),
            ],
        )
        .await;
    let implicit = app
        .token(app.basic(WEB), &[("grant_type", "implicit")])
        .await;

    password.assert_oauth_error(400, "unsupported_grant_type", "password grant");
    implicit.assert_oauth_error(400, "unsupported_grant_type", "made-up grant");
    assert_eq!(app.count(Table::Sessions), 0);
}

#[tokio::test]
async fn repeated_token_parameters_are_invalid_request() {
    let app = TestApp::spawn().await;
    let req = AuthRequest::for_client(WEB);
    let code = web_code(&app, &req).await;
    let v = req.verifier().expect("verifier");

    let repeated_code = app
        .token(
            app.basic(WEB),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code", "other"),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", v),
            ],
        )
        .await;
    let repeated_grant = app
        .token(
            app.basic(WEB),
            &[
                ("grant_type", "authorization_code"),
                ("grant_type", "client_credentials"),
                ("code", &code),
                ("redirect_uri", WEB_REDIRECT),
                ("code_verifier", v),
            ],
        )
        .await;

    repeated_code.assert_oauth_error(400, "invalid_request", "repeated code");
    repeated_grant.assert_oauth_error(400, "invalid_request", "repeated grant_type");
    let good = app
        .redeem(app.basic(WEB), &code, WEB_REDIRECT, Some(v))
        .await;
    assert_eq!(
        good.status, 200,
        "the rejected requests did not use the code: {}",
        good.body
    );
}

#[tokio::test]
async fn oversized_token_body_gets_413() {
    let app = TestApp::spawn().await;
    let padding = "a".repeat(70 * 1024);

    let reply = app
        .token(
            app.basic(SERVICE),
            &[("grant_type", "client_credentials"), ("padding", &padding)],
        )
        .await;

    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(!reply.body.contains("access_token"));
}

#[tokio::test]
async fn overlong_and_malformed_requests_get_400_not_500() {
    let app = TestApp::spawn().await;
    let long = "c".repeat(10_000);

    let overlong = app
        .redeem(app.basic(WEB), &long, WEB_REDIRECT, Some("v"))
        .await;
    let not_utf8 = app
        .api
        .post(app.url("/token"))
        .basic_auth(SERVICE, Some(app.secret(SERVICE)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![
            b'g', b'r', b'a', b'n', b't', b'_', b't', b'=', 0xff, 0xfe, b'%', b'z',
        ])
        .send()
        .await
        .expect("POST");
    let json_body = app
        .api
        .post(app.url("/token"))
        .basic_auth(SERVICE, Some(app.secret(SERVICE)))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .expect("POST");
    let missing_grant = app.token(app.basic(SERVICE), &[]).await;

    overlong.assert_oauth_error(400, "invalid_request", "a 10 000-character code");
    assert!(!overlong.body.contains(&long));
    for (what, resp) in [
        ("bytes that are not UTF-8", not_utf8),
        ("a JSON body", json_body),
    ] {
        let status = resp.status().as_u16();
        let reply = crate::helpers::Reply::read(resp).await;
        assert_eq!(status, 400, "{what}: {}", reply.body);
        assert!(
            reply.json()["error"].is_string(),
            "{what}: an RFC error code"
        );
    }
    missing_grant.assert_oauth_error(400, "invalid_request", "no grant_type");
}
