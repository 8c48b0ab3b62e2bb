//! Forged and tampered JWTs, as an attacker holding a genuine token and the public JWKS would
//! build them (SECURITY.md: only RS256 with a `kid` from our own key set is accepted).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};

use crate::helpers::TestApp;

/// The claims of a JWT, read without verification.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT payload");
    let bytes = URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

/// Signs `claims` with RS256 and an RSA private key PEM.
pub fn sign_rs256(pem: &[u8], kid: Option<&str>, typ: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_string);
    header.typ = Some(typ.to_string());
    let key = EncodingKey::from_rsa_pem(pem).expect("RSA PEM");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

/// A fresh RSA-2048 key the server has never seen, as PKCS#8 PEM.
pub fn attacker_key() -> Vec<u8> {
    let mut rng = rsa::rand_core::OsRng;
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("generate RSA key");
    key.to_pkcs8_pem(LineEnding::LF)
        .expect("PEM")
        .as_bytes()
        .to_vec()
}

/// The public key of a private key PEM, as SPKI PEM and as PKCS#1 PEM.
fn public_pems(private_pem: &[u8]) -> (String, String) {
    let text = std::str::from_utf8(private_pem).expect("UTF-8 PEM");
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(text).expect("PKCS#8 key");
    let public = rsa::RsaPublicKey::from(&key);
    (
        public.to_public_key_pem(LineEnding::LF).expect("SPKI PEM"),
        public.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1 PEM"),
    )
}

fn hs256(secret: &[u8], kid: &str, typ: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).expect("sign")
}

/// Every forgery of `genuine` (an access token, or an ID token when `typ` says so) that the
/// server must refuse, each with a name for the assertion message.
pub async fn forgeries_of(app: &TestApp, genuine: &str, typ: &str) -> Vec<(String, String)> {
    let (kid, pem) = app.signing_key();
    let claims = claims_of(genuine);
    let now = tessera::clock::now();
    let with = |changes: Value| {
        let mut c = claims.clone();
        for (k, v) in changes.as_object().expect("an object") {
            c[k] = v.clone();
        }
        c
    };
    let mut out = vec![];

    let none_header = json!({"alg": "none", "typ": typ, "kid": kid});
    out.push((
        "alg none".into(),
        format!("{}.{}.", b64_json(&none_header), b64_json(&claims)),
    ));
    let none_lower = json!({"alg": "None", "typ": typ, "kid": kid});
    out.push((
        "alg None".into(),
        format!("{}.{}.", b64_json(&none_lower), b64_json(&claims)),
    ));

    let (spki, pkcs1) = public_pems(&pem);
    out.push((
        "HS256 keyed with the SPKI public key PEM".into(),
        hs256(spki.as_bytes(), &kid, typ, &claims),
    ));
    out.push((
        "HS256 keyed with the PKCS#1 public key PEM".into(),
        hs256(pkcs1.as_bytes(), &kid, typ, &claims),
    ));
    let jwks_body = app.get("/jwks").await.body;
    out.push((
        "HS256 keyed with the JWKS document".into(),
        hs256(jwks_body.as_bytes(), &kid, typ, &claims),
    ));

    let attacker = attacker_key();
    out.push((
        "RS256 by an unknown key with an unknown kid".into(),
        sign_rs256(&attacker, Some("attacker-key-1"), typ, &claims),
    ));
    out.push((
        "RS256 by an unknown key claiming our kid".into(),
        sign_rs256(&attacker, Some(&kid), typ, &claims),
    ));
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some(typ.into());
    let attacker_enc = EncodingKey::from_rsa_pem(&attacker).expect("PEM");
    let mut embedded = Jwk::from_encoding_key(&attacker_enc, Algorithm::RS256).expect("JWK");
    embedded.common.key_id = Some("embedded".into());
    header.kid = Some("embedded".into());
    header.jwk = Some(embedded);
    out.push((
        "RS256 by an unknown key embedded as a jwk header".into(),
        jsonwebtoken::encode(&header, &claims, &attacker_enc).expect("sign"),
    ));

    out.push((
        "our key without a kid".into(),
        sign_rs256(&pem, None, typ, &claims),
    ));
    out.push((
        "our key with a wrong iss".into(),
        sign_rs256(
            &pem,
            Some(&kid),
            typ,
            &with(json!({"iss": "https://evil.example"})),
        ),
    ));
    out.push((
        "our key, expired an hour ago".into(),
        sign_rs256(
            &pem,
            Some(&kid),
            typ,
            &with(json!({"iat": now - 7200, "exp": now - 3600})),
        ),
    ));
    out.push((
        "our key, not valid for another hour".into(),
        sign_rs256(
            &pem,
            Some(&kid),
            typ,
            &with(json!({"iat": now, "nbf": now + 3600, "exp": now + 7200})),
        ),
    ));

    let mut parts = genuine.split('.');
    let (h, _, s) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    );
    let tampered = with(json!({"sub": "someone-else", "scope": "openid profile email"}));
    out.push((
        "genuine signature over a tampered payload".into(),
        format!("{h}.{}.{s}", b64_json(&tampered)),
    ));
    let payload = genuine.split('.').nth(1).expect("payload");
    out.push((
        "genuine token with the signature stripped".into(),
        format!("{h}.{payload}."),
    ));
    out.push(("not a JWT at all".into(), "not-a-token".into()));
    out
}

/// The forgeries made with our own key carry a valid signature, so the tests that refuse them
/// really exercise the `iss`, `exp`, `nbf` and `kid` checks rather than the signature check.
#[tokio::test]
async fn forgeries_with_our_key_have_valid_signatures() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(crate::helpers::PORTAL, "openid").await;
    let genuine = tokens["access_token"].as_str().expect("access_token");
    let (kid, _) = app.signing_key();
    let jwks = app.jwks().await;
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).expect("our key")).expect("JWK");
    let mut lax = jsonwebtoken::Validation::new(Algorithm::RS256);
    lax.validate_exp = false;
    lax.validate_nbf = false;
    lax.validate_aud = false;
    lax.required_spec_claims.clear();

    let forgeries = forgeries_of(&app, genuine, "at+jwt").await;

    for name in [
        "our key without a kid",
        "our key with a wrong iss",
        "our key, expired an hour ago",
        "our key, not valid for another hour",
    ] {
        let (_, token) = forgeries
            .iter()
            .find(|(n, _)| n == name)
            .expect("the forgery exists");
        jsonwebtoken::decode::<Value>(token, &key, &lax)
            .unwrap_or_else(|e| panic!("{name}: signature should verify: {e}"));
    }
}
