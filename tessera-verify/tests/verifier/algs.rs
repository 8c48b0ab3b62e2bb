//! ES256 and EdDSA tokens from a real Tessera: accepted with the JWKS key of their type, and
//! the key named by `kid` fixes the algorithm (no alg confusion).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use tessera::crypto::alg::SigningAlg;
use tessera_verify::{Verifier, VerifyError};

use crate::tessera::{EDDSA_CLIENT, ES256_CLIENT, Tessera};

/// A token with `header` over the claims of `like`, signed by `alg` with `key`.
fn forge(like: &str, header: Value, alg: Algorithm, key: &EncodingKey) -> String {
    let payload = like.split('.').nth(1).expect("payload");
    let input = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
    format!("{input}.{sig}")
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

/// A private key of `alg`'s type that Tessera never published.
fn foreign_key(dir: &std::path::Path, alg: SigningAlg) -> EncodingKey {
    let kid = tessera::crypto::keys::generate(dir, alg).expect("generate");
    let pem = std::fs::read(dir.join(format!("{kid}.pem"))).expect("pem");
    match alg {
        SigningAlg::RS256 => EncodingKey::from_rsa_pem(&pem),
        SigningAlg::ES256 => EncodingKey::from_ec_pem(&pem),
        SigningAlg::EdDSA => EncodingKey::from_ed_pem(&pem),
    }
    .expect("key")
}

#[tokio::test]
async fn es256_and_eddsa_tokens_verify_and_the_key_fixes_the_algorithm() {
    let tessera = Tessera::start("15m").await;
    let verifier = |aud: &str| {
        Verifier::builder(&tessera.issuer)
            .audience(aud)
            .build()
            .expect("verifier")
    };
    let es = tessera.token(ES256_CLIENT, "orders:read").await;
    let ed = tessera.token(EDDSA_CLIENT, "orders:read").await;
    for (client, token, alg) in [
        (ES256_CLIENT, &es, Algorithm::ES256),
        (EDDSA_CLIENT, &ed, Algorithm::EdDSA),
    ] {
        assert_eq!(jsonwebtoken::decode_header(token).expect("h").alg, alg);
        let v = verifier(client);
        assert_eq!(v.refresh_keys().await.expect("keys"), 3, "one key per type");
        let claims = v.verify_access_token(token).await.expect("a valid token");
        assert_eq!(claims.client_id, client);
        assert!(claims.has_scope("orders:read"));
    }

    let (rsa_kid, rsa_pem) = tessera.signing_key();
    let rsa = EncodingKey::from_rsa_pem(&rsa_pem).expect("rsa");
    let (es_kid, ed_kid) = (kid_of(&es), kid_of(&ed));
    let jwks: Value = tessera
        .http
        .get(format!("{}/jwks", tessera.issuer))
        .send()
        .await
        .expect("GET /jwks")
        .json()
        .await
        .expect("JSON");
    let jwk_bytes = |kid: &str| {
        let keys = jwks["keys"].as_array().expect("keys");
        let jwk = keys.iter().find(|k| k["kid"] == kid).expect("published");
        serde_json::to_vec(jwk).expect("JSON")
    };
    let head = |alg: &str, kid: &str| json!({"alg": alg, "typ": "at+jwt", "kid": kid});
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "ES256 header under the RSA kid",
            forge(
                &es,
                head("ES256", &rsa_kid),
                Algorithm::ES256,
                &foreign_key(dir.path(), SigningAlg::ES256),
            ),
            VerifyError::Algorithm,
        ),
        (
            "RS256 by our RSA key under the EC kid",
            forge(&es, head("RS256", &es_kid), Algorithm::RS256, &rsa),
            VerifyError::Algorithm,
        ),
        (
            "HS256 keyed with the EC JWK",
            forge(
                &es,
                head("HS256", &es_kid),
                Algorithm::HS256,
                &EncodingKey::from_secret(&jwk_bytes(&es_kid)),
            ),
            VerifyError::Algorithm,
        ),
        (
            "HS256 keyed with the OKP JWK",
            forge(
                &ed,
                head("HS256", &ed_kid),
                Algorithm::HS256,
                &EncodingKey::from_secret(&jwk_bytes(&ed_kid)),
            ),
            VerifyError::Algorithm,
        ),
        (
            "ES256 header under the EdDSA kid",
            forge(
                &ed,
                head("ES256", &ed_kid),
                Algorithm::ES256,
                &foreign_key(dir.path(), SigningAlg::ES256),
            ),
            VerifyError::Algorithm,
        ),
        (
            "EdDSA re-signed by a foreign key",
            forge(
                &ed,
                head("EdDSA", &ed_kid),
                Algorithm::EdDSA,
                &foreign_key(dir.path(), SigningAlg::EdDSA),
            ),
            VerifyError::Signature,
        ),
        (
            "ES256 re-signed by a foreign key",
            forge(
                &es,
                head("ES256", &es_kid),
                Algorithm::ES256,
                &foreign_key(dir.path(), SigningAlg::ES256),
            ),
            VerifyError::Signature,
        ),
    ];
    for (what, token, expected) in cases {
        // The forged token carries the claims (and so the audience) of the token it copies.
        let aud = jsonwebtoken::dangerous::insecure_decode::<Value>(&token)
            .expect("claims")
            .claims["aud"]
            .as_str()
            .expect("aud")
            .to_string();
        let got = verifier(&aud).verify_access_token(&token).await;
        assert_eq!(got.err(), Some(expected), "{what}");
    }
}
