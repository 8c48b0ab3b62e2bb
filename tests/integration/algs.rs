//! Per-client signing algorithms: ES256 and EdDSA clients get ID and access tokens signed by
//! a key of their type, published in the JWKS; userinfo and introspection accept them; the
//! key fixes the algorithm (no alg confusion); rotation and retirement treat all types alike;
//! the admin API and discovery speak of the choice.

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde_json::{Value, json};
use tessera::crypto::alg::SigningAlg;
use tessera::manage::NewClient;

use crate::admin_support::{call, register};
use crate::browser::AuthRequest;
use crate::helpers::{ClientAuth, TestApp, str_field};

const REDIRECT: &str = "https://alg.example/cb";

/// A first-party confidential client using `alg`, for the code, refresh and client
/// credentials grants; answers its secret.
pub fn register_with(app: &TestApp, id: &str, alg: SigningAlg) -> String {
    register(
        app,
        NewClient {
            client_id: id.into(),
            name: format!("The {id} app"),
            redirect_uris: vec![REDIRECT.into()],
            post_logout_redirect_uris: vec![],
            public: false,
            grant_types: ["authorization_code", "refresh_token", "client_credentials"]
                .iter()
                .map(|g| g.to_string())
                .collect(),
            scopes: ["openid", "profile", "email", "offline_access", "api"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            first_party: true,
            secret: None,
            id_token_signed_response_alg: alg,
        },
    )
    .expect("a secret")
}

/// Checks that the JWK is of `alg`'s type, with `alg`, `use: sig` and a kid.
fn assert_key_type(jwk: &Jwk, alg: SigningAlg) {
    let json = serde_json::to_value(jwk).expect("jwk json");
    assert_eq!(json["alg"], alg.as_str(), "{json}");
    assert_eq!(json["use"], "sig", "{json}");
    assert!(json["kid"].is_string(), "{json}");
    match (alg, &jwk.algorithm) {
        (SigningAlg::RS256, AlgorithmParameters::RSA(_)) => {}
        (SigningAlg::ES256, AlgorithmParameters::EllipticCurve(ec)) => {
            assert_eq!(ec.curve, EllipticCurve::P256);
            assert_eq!(json["kty"], "EC");
        }
        (SigningAlg::EdDSA, AlgorithmParameters::OctetKeyPair(okp)) => {
            assert_eq!(okp.curve, EllipticCurve::Ed25519);
            assert_eq!(json["kty"], "OKP");
        }
        _ => panic!("{alg} token signed by a key of another type: {json}"),
    }
    for private in ["d", "p", "q", "dp", "dq", "qi"] {
        assert!(json.get(private).is_none(), "{private} published");
    }
}

/// Verifies `token` with the JWKS key its kid names, independently of the server's code:
/// the key must be of `alg`'s type; answers the claims.
fn verify_with_jwks(jwks: &JwkSet, token: &str, alg: SigningAlg, issuer: &str) -> Value {
    let header = jsonwebtoken::decode_header(token).expect("header");
    assert_eq!(header.alg, alg.jwt(), "header alg");
    let kid = header.kid.expect("kid");
    let jwk = jwks.find(&kid).expect("the kid is in the JWKS");
    assert_key_type(jwk, alg);
    let key = DecodingKey::from_jwk(jwk).expect("a decoding key");
    let mut validation = Validation::new(alg.jwt());
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .expect("verifies with the JWKS key")
        .claims
}

/// A code flow with PKCE for alice; answers the token response.
pub async fn code_flow(app: &TestApp, id: &str, secret: &str) -> Value {
    let req = AuthRequest::new(id, REDIRECT);
    app.redeemed(&app.browser(), &req, ClientAuth::Basic(id, secret))
        .await
}

#[actix_web::test]
async fn es256_and_eddsa_clients_get_tokens_of_their_type_and_rs256_is_unchanged() {
    let app = TestApp::spawn().await;
    let jwks = app.jwks().await;
    for alg in SigningAlg::ALL {
        let of_type: Vec<&Jwk> = jwks
            .keys
            .iter()
            .filter(|k| serde_json::to_value(k).expect("json")["alg"] == alg.as_str())
            .collect();
        assert_eq!(of_type.len(), 1, "one {alg} key published");
        assert_key_type(of_type[0], alg);
    }

    for alg in SigningAlg::ALL {
        let id = format!("app-{}", alg.as_str().to_lowercase());
        let secret = register_with(&app, &id, alg);

        // Code + PKCE: ID token and access token of the client's type, at_hash by its hash.
        let tokens = code_flow(&app, &id, &secret).await;
        let access = str_field(&tokens, "access_token");
        let id_token = str_field(&tokens, "id_token");
        let claims = verify_with_jwks(&jwks, &id_token, alg, &app.issuer);
        assert_eq!(claims["aud"], id.as_str());
        assert_eq!(claims["sub"], app.alice_id.as_str());
        assert_eq!(claims["at_hash"], alg.token_hash(&access).as_str());
        let access_claims = verify_with_jwks(&jwks, &access, alg, &app.issuer);
        assert_eq!(access_claims["client_id"], id.as_str());

        // The resource endpoints accept the token.
        let info = app.userinfo(&access).await;
        assert_eq!(info.status, 200, "{alg} userinfo: {}", info.body);
        assert_eq!(info.json()["sub"], app.alice_id.as_str());
        let auth = ClientAuth::Basic(&id, &secret);
        let intro = app.introspect(auth, &access).await;
        assert_eq!(intro.json()["active"], true, "{alg} introspection");

        // Refresh: the new tokens are of the same type.
        let refreshed = app
            .refresh(auth, &str_field(&tokens, "refresh_token"))
            .await;
        assert_eq!(refreshed.status, 200, "{alg} refresh: {}", refreshed.body);
        let again = refreshed.json();
        verify_with_jwks(&jwks, &str_field(&again, "id_token"), alg, &app.issuer);
        verify_with_jwks(&jwks, &str_field(&again, "access_token"), alg, &app.issuer);

        // Client credentials.
        let reply = app
            .token(
                auth,
                &[("grant_type", "client_credentials"), ("scope", "api")],
            )
            .await;
        assert_eq!(
            reply.status, 200,
            "{alg} client credentials: {}",
            reply.body
        );
        let service = str_field(&reply.json(), "access_token");
        let claims = verify_with_jwks(&jwks, &service, alg, &app.issuer);
        assert_eq!(claims["sub"], id.as_str());
        assert_eq!(app.introspect(auth, &service).await.json()["active"], true);

        // Revocation of the JWT access token is honoured for every type.
        assert_eq!(app.revoke(auth, &access).await.status, 200);
        app.userinfo(&access)
            .await
            .assert_invalid_token(&format!("{alg} revoked"));
    }

    // The fixture clients (RS256 by default) are unchanged.
    let (_, tokens) = app.tokens_for(crate::helpers::WEB, "openid profile").await;
    verify_with_jwks(
        &jwks,
        &str_field(&tokens, "id_token"),
        SigningAlg::RS256,
        &app.issuer,
    );
}

/// `header.payload` of a token with `header` and the claims of `like`, signed by `alg` with `key`.
pub fn forge(like: &str, header: Value, alg: Algorithm, key: &EncodingKey) -> String {
    use base64::Engine;
    let b64 = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let payload = like.split('.').nth(1).expect("payload");
    let input = format!("{}.{payload}", b64(header.to_string().as_bytes()));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{sig}")
}

#[actix_web::test]
async fn the_key_named_by_kid_fixes_the_algorithm_at_every_endpoint() {
    let app = TestApp::spawn().await;
    let es = register_with(&app, "app-es", SigningAlg::ES256);
    let ed = register_with(&app, "app-ed", SigningAlg::EdDSA);
    let cc = |id: &'static str, secret: String| {
        let app = &app;
        async move {
            let auth = ClientAuth::Basic(id, &secret);
            let reply = app
                .token(auth, &[("grant_type", "client_credentials")])
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            str_field(&reply.json(), "access_token")
        }
    };
    let es_token = cc("app-es", es.clone()).await;
    let ed_token = cc("app-ed", ed.clone()).await;
    let kid_of = |t: &str| jsonwebtoken::decode_header(t).expect("h").kid.expect("kid");
    let (rsa_kid, rsa_pem) = app.signing_key();
    let (es_kid, ed_kid) = (kid_of(&es_token), kid_of(&ed_token));
    let jwks = app.jwks().await;
    let public_jwk = |kid: &str| serde_json::to_vec(jwks.find(kid).expect("jwk")).expect("json");

    let foreign = tempfile::tempdir().expect("tempdir");
    let foreign_key = |alg: SigningAlg| {
        let kid = tessera::crypto::keys::generate(foreign.path(), alg).expect("generate");
        let pem = std::fs::read(foreign.path().join(format!("{kid}.pem"))).expect("pem");
        match alg {
            SigningAlg::RS256 => EncodingKey::from_rsa_pem(&pem),
            SigningAlg::ES256 => EncodingKey::from_ec_pem(&pem),
            SigningAlg::EdDSA => EncodingKey::from_ed_pem(&pem),
        }
        .expect("foreign key")
    };
    let head = |alg: &str, kid: &str| json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    let rsa = EncodingKey::from_rsa_pem(&rsa_pem).expect("rsa key");
    let forgeries = [
        // An RS256 signature by our own RSA key, presented under the EC kid.
        (
            "RS256 under the EC kid",
            forge(&es_token, head("RS256", &es_kid), Algorithm::RS256, &rsa),
        ),
        // ES256 header with the RSA kid (signed by a P-256 key).
        (
            "ES256 under the RSA kid",
            forge(
                &es_token,
                head("ES256", &rsa_kid),
                Algorithm::ES256,
                &foreign_key(SigningAlg::ES256),
            ),
        ),
        // HS256 keyed with the published EC and OKP public keys.
        (
            "HS256 with the EC JWK",
            forge(
                &es_token,
                head("HS256", &es_kid),
                Algorithm::HS256,
                &EncodingKey::from_secret(&public_jwk(&es_kid)),
            ),
        ),
        (
            "HS256 with the OKP JWK",
            forge(
                &ed_token,
                head("HS256", &ed_kid),
                Algorithm::HS256,
                &EncodingKey::from_secret(&public_jwk(&ed_kid)),
            ),
        ),
        // EdDSA and ES256 tokens re-signed by foreign keys under our kids.
        (
            "EdDSA by a foreign key",
            forge(
                &ed_token,
                head("EdDSA", &ed_kid),
                Algorithm::EdDSA,
                &foreign_key(SigningAlg::EdDSA),
            ),
        ),
        (
            "ES256 by a foreign key",
            forge(
                &es_token,
                head("ES256", &es_kid),
                Algorithm::ES256,
                &foreign_key(SigningAlg::ES256),
            ),
        ),
        // EdDSA header under the EC kid.
        (
            "EdDSA under the EC kid",
            forge(
                &es_token,
                head("EdDSA", &es_kid),
                Algorithm::EdDSA,
                &foreign_key(SigningAlg::EdDSA),
            ),
        ),
    ];
    let none = {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = ed_token.split('.').nth(1).expect("payload");
        format!(
            "{}.{payload}.",
            b64.encode(head("none", &ed_kid).to_string())
        )
    };
    for (what, token) in forgeries
        .iter()
        .map(|(w, t)| (*w, t.clone()))
        .chain([("none", none)])
    {
        app.userinfo(&token).await.assert_invalid_token(what);
        let intro = app
            .introspect(ClientAuth::Basic("app-es", &es), &token)
            .await;
        assert_eq!(intro.status, 200, "{what}");
        assert_eq!(intro.json()["active"], false, "{what}: introspection");
        let admin = call(&app, "get", "/admin/api/v1/clients", Some(&token), None).await;
        assert_eq!(admin.status, 401, "{what}: admin API bearer");
    }
    // The genuine tokens still pass.
    let intro = app
        .introspect(ClientAuth::Basic("app-es", &es), &es_token)
        .await;
    assert_eq!(intro.json()["active"], true);
}

#[actix_web::test]
async fn an_es256_id_token_is_a_valid_logout_hint() {
    let app = TestApp::spawn().await;
    let secret = register_with(&app, "app-es", SigningAlg::ES256);
    let tokens = code_flow(&app, "app-es", &secret).await;
    let id_token = str_field(&tokens, "id_token");
    let hint = |t: &str| format!("/logout?id_token_hint={t}");
    let genuine = app.get(&hint(&id_token)).await;
    assert_ne!(genuine.status, 400, "{}", genuine.body);
    assert!(
        !genuine.body.contains("not a valid ID token"),
        "{}",
        genuine.body
    );
    // The same claims under an ES256 header re-signed by a foreign key are refused.
    let foreign = tempfile::tempdir().expect("tempdir");
    let kid = tessera::crypto::keys::generate(foreign.path(), SigningAlg::ES256).expect("key");
    let pem = std::fs::read(foreign.path().join(format!("{kid}.pem"))).expect("pem");
    let header = json!({"alg": "ES256", "typ": "JWT",
        "kid": jsonwebtoken::decode_header(&id_token).expect("h").kid});
    let forged = forge(
        &id_token,
        header,
        Algorithm::ES256,
        &EncodingKey::from_ec_pem(&pem).expect("key"),
    );
    let refused = app.get(&hint(&forged)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused.body.contains("not a valid ID token"),
        "{}",
        refused.body
    );
}

/// A real relying party (the `openidconnect` crate) verifies the ID token of an ES256 and of an
/// EdDSA client against the JWKS, with its `at_hash` (SHA-512 for EdDSA).
#[actix_web::test]
async fn openidconnect_verifies_es256_and_eddsa_id_tokens_and_their_at_hash() {
    use openidconnect::core::{
        CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata,
        CoreResponseType,
    };
    use openidconnect::{
        AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
        IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, TokenResponse,
    };
    let app = TestApp::spawn().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let issuer = IssuerUrl::new(app.issuer.clone()).expect("issuer URL");
    for (alg, rp_alg) in [
        (SigningAlg::ES256, CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        (SigningAlg::EdDSA, CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let id = format!("rp-{}", alg.as_str().to_lowercase());
        let secret = register_with(&app, &id, alg);
        let metadata = CoreProviderMetadata::discover_async(issuer.clone(), &http)
            .await
            .expect("discovery and JWKS");
        let client = CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(id.clone()),
            Some(ClientSecret::new(secret)),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.into()).expect("redirect URL"));
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (auth_url, _, nonce) = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge)
            .url();
        let browser = app.browser();
        let first = browser.get(auth_url.as_str()).await;
        let callback = browser.drive(first, "allow").await;
        let code = crate::helpers::query_of(&callback)["code"].clone();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .expect("token endpoint known")
            .set_pkce_verifier(verifier)
            .request_async(&http)
            .await
            .expect("code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        // An RP that allows only RS256 refuses it.
        let rs256_only = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256]);
        assert!(id_token.claims(&rs256_only, &nonce).is_err(), "{alg}");
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![rp_alg.clone()]);
        let claims: &CoreIdTokenClaims = id_token
            .claims(&id_verifier, &nonce)
            .expect("a valid ID token");
        assert_eq!(claims.subject().as_str(), app.alice_id);
        assert_eq!(id_token.signing_alg().expect("alg"), &rp_alg);
        let expected = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().expect("alg"),
            id_token.signing_key(&id_verifier).expect("key"),
        )
        .expect("at_hash");
        assert_eq!(claims.access_token_hash(), Some(&expected), "{alg} at_hash");
    }
}
