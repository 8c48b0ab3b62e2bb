//! What the verifier accepts and refuses, with tokens signed by a local provider's keys:
//! typ, alg, kid, iss, aud, exp, nbf with leeway, ID token azp and nonce, typed claims.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tessera_verify::VerifyError;

use crate::local::{AUDIENCE, LocalIssuer, keys, now};

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("JSON"))
}

async fn provider() -> LocalIssuer {
    let [k1, ..] = keys();
    LocalIssuer::start(vec![k1.clone()], "max-age=300").await
}

#[tokio::test]
async fn a_valid_access_token_gives_typed_claims() {
    let p = provider().await;
    let v = p.verifier(Duration::from_secs(30));
    let claims = p.access_claims(json!({
        "roles": ["admin", "auditor"], "groups": ["ops"], "tenant": "acme",
    }));
    for typ in ["at+jwt", "AT+JWT", "application/at+jwt"] {
        let token = keys()[0].sign(typ, &claims);
        let got = v.verify_access_token(&token).await.expect("valid");
        assert_eq!(got.sub, "user-1");
        assert_eq!(got.client_id, AUDIENCE);
        assert!(got.has_scope("orders:read") && !got.has_scope("orders:write"));
        assert!(got.has_role("auditor") && got.in_group("ops"));
        assert_eq!(got.extra["tenant"], "acme");
    }
}

#[tokio::test]
async fn refused_access_tokens() {
    let p = provider().await;
    let v = p.verifier(Duration::from_secs(30));
    let [k1, k2, _] = keys();
    let now = now();
    let claims = |changes: Value| p.access_claims(changes);
    let genuine = k1.sign("at+jwt", &claims(json!({})));
    let header_of = |alg: &str| json!({"alg": alg, "typ": "at+jwt", "kid": k1.kid});
    let hs256 = |secret: &[u8]| {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(k1.kid.clone());
        h.typ = Some("at+jwt".into());
        jsonwebtoken::encode(&h, &claims(json!({})), &EncodingKey::from_secret(secret))
            .expect("sign")
    };
    let jwks = serde_json::to_vec(&json!({"keys": [k1.jwk()]})).expect("JSON");
    let (h, _, s) = {
        let mut parts = genuine.split('.');
        (
            parts.next().expect("h").to_string(),
            parts.next().expect("p").to_string(),
            parts.next().expect("s").to_string(),
        )
    };
    let mut no_kid = Header::new(Algorithm::RS256);
    no_kid.typ = Some("at+jwt".into());
    let no_kid = jsonwebtoken::encode(
        &no_kid,
        &claims(json!({})),
        &EncodingKey::from_rsa_pem(&k1.pem).expect("PEM"),
    )
    .expect("sign");
    let mut foreign_with_our_kid = k2.clone();
    foreign_with_our_kid.kid = k1.kid.clone();

    let cases: Vec<(&str, String, VerifyError)> = vec![
        ("not a JWT", "garbage".into(), VerifyError::Malformed),
        ("empty", String::new(), VerifyError::Malformed),
        ("huge", "a".repeat(20_000), VerifyError::Malformed),
        (
            "alg none",
            format!("{}.{}.", b64(&header_of("none")), b64(&claims(json!({})))),
            VerifyError::Malformed,
        ),
        (
            "HS256 keyed with the JWKS",
            hs256(&jwks),
            VerifyError::Algorithm,
        ),
        (
            "HS256 keyed with the PEM",
            hs256(&k1.pem),
            VerifyError::Algorithm,
        ),
        (
            "ID token typ",
            k1.sign("JWT", &claims(json!({}))),
            VerifyError::Type,
        ),
        (
            "no typ",
            {
                let mut hd = Header::new(Algorithm::RS256);
                hd.kid = Some(k1.kid.clone());
                hd.typ = None;
                jsonwebtoken::encode(
                    &hd,
                    &claims(json!({})),
                    &EncodingKey::from_rsa_pem(&k1.pem).expect("PEM"),
                )
                .expect("sign")
            },
            VerifyError::Type,
        ),
        ("no kid", no_kid, VerifyError::UnknownKey),
        (
            "unknown kid",
            k2.sign("at+jwt", &claims(json!({}))),
            VerifyError::UnknownKey,
        ),
        (
            "foreign key claiming our kid",
            foreign_with_our_kid.sign("at+jwt", &claims(json!({}))),
            VerifyError::Signature,
        ),
        (
            "tampered payload",
            format!("{h}.{}.{s}", b64(&claims(json!({"scope": "orders:write"})))),
            VerifyError::Signature,
        ),
        (
            "signature stripped",
            format!("{h}.{}.", b64(&claims(json!({})))),
            VerifyError::Signature,
        ),
        (
            "expired beyond the leeway",
            k1.sign(
                "at+jwt",
                &claims(json!({"iat": now - 600, "exp": now - 120})),
            ),
            VerifyError::Expired,
        ),
        (
            "not valid for another five minutes",
            k1.sign("at+jwt", &claims(json!({"nbf": now + 300}))),
            VerifyError::NotYetValid,
        ),
        (
            "another issuer",
            k1.sign("at+jwt", &claims(json!({"iss": "https://evil.example"}))),
            VerifyError::Issuer,
        ),
        (
            "another audience",
            k1.sign("at+jwt", &claims(json!({"aud": "billing-api"}))),
            VerifyError::Audience,
        ),
        (
            "no exp",
            k1.sign("at+jwt", &claims(json!({"exp": null}))),
            VerifyError::Claims,
        ),
        (
            "no sub",
            k1.sign("at+jwt", &claims(json!({"sub": null}))),
            VerifyError::Claims,
        ),
        (
            "exp of the wrong type",
            k1.sign("at+jwt", &claims(json!({"exp": "tomorrow"}))),
            VerifyError::Claims,
        ),
        (
            "no client_id",
            k1.sign("at+jwt", &claims(json!({"client_id": null}))),
            VerifyError::Claims,
        ),
    ];
    for (name, token, expected) in cases {
        assert_eq!(v.verify_access_token(&token).await, Err(expected), "{name}");
    }
}

#[tokio::test]
async fn leeway_covers_small_clock_skew_only() {
    let p = provider().await;
    let v = p.verifier(Duration::from_secs(30));
    let k1 = &keys()[0];
    let now = now();
    let just_expired = k1.sign("at+jwt", &p.access_claims(json!({"exp": now - 20})));
    let almost_valid = k1.sign("at+jwt", &p.access_claims(json!({"nbf": now + 20})));
    v.verify_access_token(&just_expired)
        .await
        .expect("within 60 s leeway");
    v.verify_access_token(&almost_valid)
        .await
        .expect("within 60 s leeway");

    let strict = tessera_verify::Verifier::builder(&p.issuer)
        .audience(AUDIENCE)
        .leeway(Duration::ZERO)
        .build()
        .expect("verifier");
    assert_eq!(
        strict.verify_access_token(&just_expired).await,
        Err(VerifyError::Expired)
    );
    assert_eq!(
        strict.verify_access_token(&almost_valid).await,
        Err(VerifyError::NotYetValid)
    );
}

#[tokio::test]
async fn any_of_several_audiences_is_accepted() {
    let p = provider().await;
    let v = tessera_verify::Verifier::builder(&p.issuer)
        .audience("web")
        .audience("mobile")
        .build()
        .expect("verifier");
    let k1 = &keys()[0];
    let mobile = k1.sign("at+jwt", &p.access_claims(json!({"aud": ["mobile", "x"]})));
    v.verify_access_token(&mobile)
        .await
        .expect("mobile is accepted");
    let other = k1.sign("at+jwt", &p.access_claims(json!({"aud": AUDIENCE})));
    assert_eq!(
        v.verify_access_token(&other).await,
        Err(VerifyError::Audience)
    );
}

#[tokio::test]
async fn id_tokens() {
    let p = provider().await;
    let v = p.verifier(Duration::from_secs(30));
    let k1 = &keys()[0];
    let now = now();
    let id = |changes: Value| {
        let mut c = json!({
            "iss": p.issuer, "sub": "user-1", "aud": "web", "azp": "web", "exp": now + 600,
            "iat": now, "auth_time": now, "nonce": "n-1", "email": "a@example.com",
        });
        for (k, val) in changes.as_object().expect("object") {
            if val.is_null() {
                c.as_object_mut().expect("object").remove(k);
            } else {
                c[k] = val.clone();
            }
        }
        k1.sign("JWT", &c)
    };
    let claims = v
        .verify_id_token(&id(json!({})), "web", Some("n-1"))
        .await
        .expect("valid");
    assert_eq!(claims.email.as_deref(), Some("a@example.com"));
    assert_eq!(claims.auth_time, Some(now));
    v.verify_id_token(&id(json!({"nonce": null, "azp": null})), "web", None)
        .await
        .expect("nonce and azp are optional");

    let cases = [
        (
            "wrong nonce",
            id(json!({})),
            Some("n-2"),
            VerifyError::Nonce,
        ),
        (
            "missing nonce",
            id(json!({"nonce": null})),
            Some("n-1"),
            VerifyError::Nonce,
        ),
        (
            "another client",
            id(json!({"aud": "spa", "azp": "spa"})),
            None,
            VerifyError::Audience,
        ),
        (
            "azp of another client",
            id(json!({"azp": "spa"})),
            None,
            VerifyError::AuthorizedParty,
        ),
        (
            "several audiences, no azp",
            id(json!({"aud": ["web", "spa"], "azp": null})),
            None,
            VerifyError::AuthorizedParty,
        ),
        (
            "expired",
            id(json!({"exp": now - 3600})),
            None,
            VerifyError::Expired,
        ),
        (
            "an access token",
            k1.sign("at+jwt", &p.access_claims(json!({"aud": "web"}))),
            None,
            VerifyError::Type,
        ),
    ];
    for (name, token, nonce, expected) in cases {
        assert_eq!(
            v.verify_id_token(&token, "web", nonce).await,
            Err(expected),
            "{name}"
        );
    }
}
