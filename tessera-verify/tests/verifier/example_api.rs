//! The example orders API in front of a real Tessera server: no token, valid, expired,
//! forged, rotated-out and under-scoped tokens, through HTTP.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::local::{LocalIssuer, keys, now};
use crate::tessera::{ORDERS_CLIENT, OTHER_CLIENT, Tessera, claims_of, start_orders_api};

struct Answer {
    status: u16,
    challenge: String,
    body: Value,
}

async fn call(method: &str, url: &str, token: Option<&str>) -> Answer {
    let client = reqwest::Client::new();
    let mut req = match method {
        "POST" => client.post(url),
        _ => client.get(url),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("request to the orders API");
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = resp.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        challenge,
        body,
    }
}

fn assert_invalid_token(a: &Answer, what: &str) {
    assert_eq!(a.status, 401, "{what}: {:?}", a.body);
    assert!(
        a.challenge
            .starts_with("Bearer realm=\"orders-api\", error=\"invalid_token\""),
        "{what}: WWW-Authenticate was `{}`",
        a.challenge
    );
    assert_eq!(a.body["error"], "invalid_token", "{what}");
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

fn sign(pem: &[u8], alg: Algorithm, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    header.typ = Some("at+jwt".into());
    let key = match alg {
        Algorithm::HS256 => EncodingKey::from_secret(pem),
        _ => EncodingKey::from_rsa_pem(pem).expect("RSA PEM"),
    };
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

#[tokio::test]
async fn the_orders_api_against_tessera() {
    let tessera = Tessera::start("15m").await;
    let api = start_orders_api(tessera.verifier().build().expect("verifier"));
    let orders = format!("{api}/orders");

    // No token: 401 with a challenge and no error code (RFC 6750 3.1).
    let a = call("GET", &orders, None).await;
    assert_eq!(a.status, 401);
    assert_eq!(a.challenge, "Bearer realm=\"orders-api\"");
    assert_eq!(
        call("GET", &format!("{api}/health"), None).await.status,
        200
    );

    // A valid token with the scope: 200.
    let read = tessera.token(ORDERS_CLIENT, "orders:read").await;
    let a = call("GET", &orders, Some(&read)).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["owner"], ORDERS_CLIENT);
    let me = call("GET", &format!("{api}/me"), Some(&read)).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["scopes"], json!(["orders:read"]));

    // The wrong scope: 403 insufficient_scope naming the scope needed.
    let a = call("POST", &orders, Some(&read)).await;
    assert_eq!(a.status, 403, "{:?}", a.body);
    assert!(
        a.challenge.contains("error=\"insufficient_scope\""),
        "{}",
        a.challenge
    );
    assert!(
        a.challenge.ends_with("scope=\"orders:write\""),
        "{}",
        a.challenge
    );
    let write = tessera
        .token(ORDERS_CLIENT, "orders:read orders:write")
        .await;
    assert_eq!(call("POST", &orders, Some(&write)).await.status, 201);
    // A role the token does not carry: 403.
    let a = call("GET", &format!("{api}/admin/report"), Some(&write)).await;
    assert_eq!(a.status, 403);
    assert_eq!(a.body["error"], "insufficient_scope");

    // A genuine token of another client: another audience.
    let other = tessera.token(OTHER_CLIENT, "orders:read").await;
    assert_invalid_token(&call("GET", &orders, Some(&other)).await, "other audience");

    // Expired, and forged ones.
    let (kid, pem) = tessera.signing_key();
    let claims = claims_of(&read);
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().expect("object") {
            c[k] = v.clone();
        }
        c
    };
    let now = now();
    let private = rsa::RsaPrivateKey::from_pkcs8_pem(std::str::from_utf8(&pem).expect("UTF-8"))
        .expect("PKCS#8");
    let public = rsa::RsaPublicKey::from(&private);
    let spki = public.to_public_key_pem(LineEnding::LF).expect("SPKI");
    let pkcs1 = public.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1");
    let jwks = tessera
        .http
        .get(format!("{}/jwks", tessera.issuer))
        .send()
        .await
        .expect("jwks")
        .text()
        .await
        .expect("body");
    let foreign = &keys()[0];
    let (h, _, s) = {
        let mut p = read.split('.');
        let h = p.next().expect("h").to_string();
        let pl = p.next().expect("p").to_string();
        (h, pl, p.next().expect("s").to_string())
    };
    let forged = [
        (
            "expired an hour ago",
            sign(
                &pem,
                Algorithm::RS256,
                &kid,
                &with(json!({"iat": now - 7200, "exp": now - 3600})),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
                b64(&claims)
            ),
        ),
        (
            "HS256 keyed with the SPKI PEM",
            sign(spki.as_bytes(), Algorithm::HS256, &kid, &claims),
        ),
        (
            "HS256 keyed with the PKCS#1 PEM",
            sign(pkcs1.as_bytes(), Algorithm::HS256, &kid, &claims),
        ),
        (
            "HS256 keyed with the JWKS",
            sign(jwks.as_bytes(), Algorithm::HS256, &kid, &claims),
        ),
        (
            "a foreign key with our kid",
            sign(&foreign.pem, Algorithm::RS256, &kid, &claims),
        ),
        (
            "a foreign key and kid",
            sign(&foreign.pem, Algorithm::RS256, "foreign", &claims),
        ),
        (
            "a tampered payload",
            format!("{h}.{}.{s}", b64(&with(json!({"scope": "orders:write"})))),
        ),
        (
            "another issuer",
            sign(
                &pem,
                Algorithm::RS256,
                &kid,
                &with(json!({"iss": "https://evil.example"})),
            ),
        ),
        ("garbage", "not-a-token".to_string()),
    ];
    for (name, token) in &forged {
        assert_invalid_token(&call("GET", &orders, Some(token)).await, name);
    }
    // Our own key signs the expired one: only `exp` refuses it.
    let a = call("GET", &orders, Some(&forged[0].1)).await;
    assert!(a.challenge.contains("expired"), "{}", a.challenge);
}

#[tokio::test]
async fn a_token_signed_by_a_key_rotated_out_of_the_jwks_is_refused() {
    // Tokens live 2 s, so a retired key leaves the JWKS 2 s after the rotation.
    let tessera = Tessera::start("2s").await;
    let verifier = tessera
        .verifier()
        .max_cache_age(Duration::from_secs(1))
        .min_refetch_interval(Duration::from_millis(500))
        .build()
        .expect("verifier");
    let api = start_orders_api(verifier);
    let orders = format!("{api}/orders");
    let before = tessera.token(ORDERS_CLIENT, "orders:read").await;
    assert_eq!(call("GET", &orders, Some(&before)).await.status, 200);
    let (old_kid, old_pem) = tessera.signing_key();

    let mut conn = tessera.db.conn().expect("db");
    let new_kid = tessera::manage::rotate_key(
        &mut conn,
        &tessera::crypto::keys::KeyVault::new(tessera.keys_dir.clone(), None),
        tessera::crypto::alg::SigningAlg::RS256,
        tessera::clock::now(),
        0,
    )
    .expect("rotate");
    drop(conn);
    let mut waited = 0;
    loop {
        let kids = tessera.published_kids().await;
        if kids.contains(&new_kid) && !kids.contains(&old_kid) {
            break;
        }
        assert!(
            waited < 200,
            "the old key is still published after 20 s: {kids:?}"
        );
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the API's cached key set (at most 1 s old) expire.
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // A token the old key signs now, valid in every other way, is refused.
    let mut claims = claims_of(&before);
    claims["iat"] = json!(now());
    claims["exp"] = json!(now() + 600);
    let stale = sign(&old_pem, Algorithm::RS256, &old_kid, &claims);
    let a = call("GET", &orders, Some(&stale)).await;
    assert_invalid_token(&a, "signed by the rotated-out key");
    assert!(
        a.challenge.contains("not signed by a key of the provider"),
        "{}",
        a.challenge
    );

    // The new key's tokens are accepted (its kid is fetched on first sight).
    let after = tessera.token(ORDERS_CLIENT, "orders:read").await;
    assert_eq!(claims_of(&after)["iss"], tessera.issuer);
    assert_eq!(call("GET", &orders, Some(&after)).await.status, 200);
}

#[tokio::test]
async fn the_role_guard_admits_a_token_with_the_role() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=300").await;
    let api = start_orders_api(provider.verifier(Duration::from_secs(30)));
    let report = format!("{api}/admin/report");
    let admin = k1.sign(
        "at+jwt",
        &provider.access_claims(json!({"roles": ["admin"]})),
    );
    let staff = k1.sign(
        "at+jwt",
        &provider.access_claims(json!({"roles": ["staff"]})),
    );
    assert_eq!(call("GET", &report, Some(&admin)).await.status, 200);
    let a = call("GET", &report, Some(&staff)).await;
    assert_eq!(a.status, 403);
    assert!(
        a.challenge.contains("the role `admin` is required"),
        "{}",
        a.challenge
    );
    // Two Authorization headers, or another scheme, are not a bearer token.
    let resp = reqwest::Client::new()
        .get(&report)
        .header("authorization", format!("Bearer {admin}"))
        .header("authorization", format!("Bearer {staff}"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
    let resp = reqwest::Client::new()
        .get(&report)
        .basic_auth("u", Some("p"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn an_unreachable_provider_answers_503_not_401() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let verifier = tessera_verify::Verifier::builder(issuer)
        .audience("orders-client")
        .build()
        .expect("verifier");
    let api = start_orders_api(verifier);
    let token = keys()[0].sign("at+jwt", &json!({"sub": "x"}));
    let a = call("GET", &format!("{api}/orders"), Some(&token)).await;
    assert_eq!(a.status, 503);
    assert_eq!(a.body["error"], "temporarily_unavailable");
    assert_eq!(a.challenge, "");
}
