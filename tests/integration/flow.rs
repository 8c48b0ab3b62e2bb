//! The authorization code flow end to end: a real relying party (the `openidconnect` crate),
//! the claims of the tokens, consent, and the kinds of clients.

use openidconnect::core::{
    CoreClient, CoreIdTokenClaims, CoreProviderMetadata, CoreResponseType, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, Scope, TokenResponse,
};
use serde_json::{Value, json};

use crate::browser::{AuthRequest, Form};
use crate::helpers::{
    ALICE, ALICE_EMAIL, ALICE_NAME, ClientAuth, NATIVE, PORTAL, SPA, Table, TestApp, WEB,
    WEB_REDIRECT, query_of,
};

/// The left half of SHA-256 of the access token, base64url (OIDC Core 3.1.3.6).
fn at_hash(access_token: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(access_token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `aud` is the client, as a string or a one-element array.
pub fn assert_aud(claims: &Value, client: &str) {
    let aud = &claims["aud"];
    assert!(
        *aud == json!(client) || *aud == json!([client]),
        "aud should be {client}, was {aud}"
    );
}

#[tokio::test]
async fn openidconnect_relying_party_completes_the_code_flow() {
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let issuer = IssuerUrl::new(app.issuer.clone()).expect("issuer URL");
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .expect("discovery and JWKS");
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(WEB.into()),
        Some(ClientSecret::new(app.secret(WEB).into())),
    )
    .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.into()).expect("redirect URL"));
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = client
        .authorize_url(
            AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // The person signs in and allows the app.
    let before = tessera::clock::now();
    let browser = app.browser();
    let first = browser.get(auth_url.as_str()).await;
    let callback = browser.drive(first, "allow").await;
    let after = tessera::clock::now();
    assert!(callback.as_str().starts_with(WEB_REDIRECT), "{callback}");
    let params = query_of(&callback);
    assert_eq!(params.get("state"), Some(state.secret()));
    assert_eq!(params.get("iss"), Some(&app.issuer));
    let code = params.get("code").expect("a code").clone();

    // The app redeems the code and verifies the ID token against the JWKS.
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .expect("token endpoint known")
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims: &CoreIdTokenClaims = id_token
        .claims(&id_verifier, &nonce)
        .expect("a valid ID token");
    assert_eq!(claims.subject().as_str(), app.alice_id);
    assert_eq!(claims.issuer().as_str(), app.issuer);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().expect("alg"),
        id_token.signing_key(&id_verifier).expect("key"),
    )
    .expect("at_hash");
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));
    let auth_time = claims.auth_time().expect("auth_time").timestamp();
    assert!(
        (before..=after).contains(&auth_time),
        "auth_time {auth_time}"
    );
    assert_eq!(claims.preferred_username().map(|u| u.as_str()), Some(ALICE));
    assert_eq!(claims.email().map(|e| e.as_str()), Some(ALICE_EMAIL));
    let name = claims.name().and_then(|n| n.get(None)).map(|n| n.as_str());
    assert_eq!(name, Some(ALICE_NAME));
    let mut scopes: Vec<String> = tokens
        .scopes()
        .expect("scope in the token response")
        .iter()
        .map(|s| s.to_string())
        .collect();
    scopes.sort();
    assert_eq!(scopes, ["email", "offline_access", "openid", "profile"]);

    // Userinfo answers for the same subject.
    let userinfo: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .expect("userinfo endpoint known")
        .request_async(&http)
        .await
        .expect("userinfo");
    assert_eq!(userinfo.email().map(|e| e.as_str()), Some(ALICE_EMAIL));
    assert_eq!(
        userinfo.preferred_username().map(|u| u.as_str()),
        Some(ALICE)
    );

    // Refresh: a new refresh token and an ID token for the same person and authentication.
    let refresh_token = tokens.refresh_token().expect("a refresh token");
    let refreshed = client
        .exchange_refresh_token(refresh_token)
        .expect("token endpoint known")
        .request_async(&http)
        .await
        .expect("refresh");
    let new_refresh = refreshed.refresh_token().expect("a rotated refresh token");
    assert_ne!(new_refresh.secret(), refresh_token.secret());
    assert_ne!(
        refreshed.access_token().secret(),
        tokens.access_token().secret()
    );
    let new_id = refreshed.id_token().expect("an ID token on refresh");
    let new_claims = new_id
        .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
        .expect("a valid refreshed ID token");
    assert_eq!(new_claims.subject(), claims.subject());
    assert_eq!(
        new_claims.auth_time().map(|t| t.timestamp()),
        Some(auth_time),
        "auth_time stays the time of the original sign-in"
    );

    // Revoking the refresh token ends the family. (The crate refuses to revoke over plain
    // http, RFC 7009 2.1, so this request is sent by hand.)
    let revoked = app.revoke(app.basic(WEB), new_refresh.secret()).await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let again = app.refresh(app.basic(WEB), new_refresh.secret()).await;
    again.assert_oauth_error(400, "invalid_grant", "refresh after revocation");
}

#[tokio::test]
async fn id_and_access_tokens_carry_the_contract_claims() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(WEB);
    let before = tessera::clock::now();

    let params = browser.code_for(&app, &req).await;
    let reply = app
        .redeem(
            app.basic(WEB),
            &params["code"],
            WEB_REDIRECT,
            req.verifier(),
        )
        .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = reply.json();
    assert_eq!(
        body["token_type"].as_str().map(str::to_lowercase),
        Some("bearer".into())
    );
    assert_eq!(body["expires_in"], json!(900));
    let access = body["access_token"].as_str().expect("access_token");
    let id = body["id_token"].as_str().expect("id_token");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| r.len() >= 43)
    );
    let mut scope: Vec<&str> = body["scope"].as_str().expect("scope").split(' ').collect();
    scope.sort();
    assert_eq!(scope, ["email", "offline_access", "openid", "profile"]);

    let (header, at) = app.verify_jwt(access, Some(WEB)).await;
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(at["iss"], json!(app.issuer));
    assert_eq!(at["sub"], json!(app.alice_id));
    assert_aud(&at, WEB);
    assert_eq!(at["client_id"], json!(WEB));
    assert_eq!(at["scope"], body["scope"]);
    assert!(at["jti"].as_str().is_some_and(|j| !j.is_empty()));
    let iat = at["iat"].as_i64().expect("iat");
    assert!(iat >= before && iat <= tessera::clock::now());
    assert_eq!(at["exp"].as_i64(), Some(iat + 900));

    let (id_header, claims) = app.verify_jwt(id, Some(WEB)).await;
    assert_eq!(id_header.kid, header.kid);
    assert_eq!(claims["iss"], json!(app.issuer));
    assert_eq!(claims["sub"], json!(app.alice_id));
    assert_aud(&claims, WEB);
    assert_eq!(claims["azp"], json!(WEB));
    assert_eq!(claims["nonce"], json!(req.nonce));
    assert_eq!(claims["at_hash"], json!(at_hash(access)));
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert!(claims["sid"].as_str().is_some_and(|s| !s.is_empty()));
    let auth_time = claims["auth_time"].as_i64().expect("auth_time");
    assert!(auth_time >= before && auth_time <= tessera::clock::now());
    let id_iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64(), Some(id_iat + 3600));
    assert_eq!(claims["name"], json!(ALICE_NAME));
    assert_eq!(claims["preferred_username"], json!(ALICE));
    assert_eq!(claims["email"], json!(ALICE_EMAIL));
    assert_eq!(claims["email_verified"], json!(false));
}

#[tokio::test]
async fn claims_follow_the_granted_scopes() {
    let app = TestApp::spawn().await;

    let (_, openid_only) = app.tokens_for(PORTAL, "openid").await;
    let (_, with_email) = app.tokens_for(PORTAL, "openid email").await;

    let id = openid_only["id_token"].as_str().expect("id_token");
    let (_, claims) = app.verify_jwt(id, Some(PORTAL)).await;
    for absent in ["email", "email_verified", "name", "preferred_username"] {
        assert!(claims.get(absent).is_none(), "`{absent}` without its scope");
    }
    assert!(
        openid_only.get("refresh_token").is_none(),
        "no offline_access"
    );
    let info = app
        .userinfo(openid_only["access_token"].as_str().expect("at"))
        .await;
    assert_eq!(info.status, 200, "{}", info.body);
    assert_eq!(info.json(), json!({"sub": app.alice_id}));

    let info = app
        .userinfo(with_email["access_token"].as_str().expect("at"))
        .await;
    assert_eq!(
        info.json(),
        json!({"sub": app.alice_id, "email": ALICE_EMAIL, "email_verified": false})
    );
}

#[tokio::test]
async fn public_client_completes_the_flow_with_pkce_and_no_secret() {
    let app = TestApp::spawn().await;

    let (_, tokens) = app.tokens_for(SPA, "openid profile offline_access").await;

    let (_, claims) = app
        .verify_jwt(tokens["id_token"].as_str().expect("id_token"), Some(SPA))
        .await;
    assert_eq!(claims["sub"], json!(app.alice_id));
    let refresh = tokens["refresh_token"].as_str().expect("refresh_token");
    let refreshed = app.refresh(ClientAuth::Public(SPA), refresh).await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    assert_eq!(refreshed.header("access-control-allow-origin"), None);
}

#[tokio::test]
async fn first_party_client_skips_consent() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let signed_in = browser.sign_in(ALICE, crate::helpers::ALICE_PASSWORD).await;
    assert_eq!(signed_in.status, 303);
    let req = AuthRequest::for_client(PORTAL);

    let reply = browser.authorize(&req).await;

    let params = reply.redirect_query();
    assert!(params.contains_key("code"));
    assert_eq!(app.count(Table::Consents), 0);
}

#[tokio::test]
async fn consent_is_remembered_for_the_same_scopes_and_asked_again_for_more() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let first = AuthRequest::for_client(WEB).scope("openid profile");
    browser.code_for(&app, &first).await;

    let again = browser
        .authorize(&AuthRequest::for_client(WEB).scope("openid profile"))
        .await;
    let wider = browser
        .authorize(&AuthRequest::for_client(WEB).scope("openid profile email"))
        .await;

    assert!(
        matches!(again.status, 302 | 303),
        "remembered consent: {} {}",
        again.status,
        again.body
    );
    assert!(query_of(&again.location()).contains_key("code"));
    assert_eq!(wider.status, 200, "more scopes need consent again");
    let form = Form::find(&wider.body, "/consent");
    let decisions: Vec<&str> = form
        .buttons
        .iter()
        .filter(|b| b.0 == "decision")
        .map(|b| b.1.as_str())
        .collect();
    assert_eq!(decisions, ["allow", "deny"]);
    assert!(form.get("csrf_token").is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn denying_consent_sends_access_denied_and_issues_no_code() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(WEB);
    let first = browser.authorize(&req).await;

    let callback = browser.drive(first, "deny").await;

    assert!(callback.as_str().starts_with(WEB_REDIRECT));
    let params = query_of(&callback);
    assert_eq!(
        params.get("error").map(String::as_str),
        Some("access_denied")
    );
    assert_eq!(params.get("state"), Some(&req.state));
    assert_eq!(params.get("iss"), Some(&app.issuer));
    assert!(!params.contains_key("code"));
    assert_eq!(app.count(Table::AuthCodes), 0);
    assert_eq!(app.count(Table::Consents), 0);
}

#[tokio::test]
async fn native_app_loopback_redirect_may_use_any_port_but_not_another_path() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(NATIVE).redirect_uri("http://127.0.0.1:51234/callback");

    let params = browser.code_for(&app, &req).await;
    let other_path = browser
        .authorize(&AuthRequest::for_client(NATIVE).redirect_uri("http://127.0.0.1:51234/other"))
        .await;

    let reply = app
        .redeem(
            ClientAuth::Public(NATIVE),
            &params["code"],
            &req.redirect_uri,
            req.verifier(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(other_path.status, 400);
    assert_eq!(other_path.header("location"), None);
}
