//! Discovery, JWKS and the operational endpoints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{SERVICE, TestApp};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_string())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn set(items: &[&str]) -> Vec<String> {
    sorted(items.iter().map(|s| s.to_string()).collect())
}

#[tokio::test]
async fn discovery_document_advertises_the_contract() {
    let app = TestApp::spawn().await;

    let reply = app.get("/.well-known/openid-configuration").await;

    assert_eq!(reply.status, 200);
    assert!(
        reply
            .header("content-type")
            .unwrap_or_default()
            .starts_with("application/json")
    );
    let d = reply.json();
    let i = &app.issuer;
    assert_eq!(d["issuer"], json!(i));
    assert_eq!(d["authorization_endpoint"], json!(format!("{i}/authorize")));
    assert_eq!(d["token_endpoint"], json!(format!("{i}/token")));
    assert_eq!(d["userinfo_endpoint"], json!(format!("{i}/userinfo")));
    assert_eq!(d["jwks_uri"], json!(format!("{i}/jwks")));
    assert_eq!(d["revocation_endpoint"], json!(format!("{i}/revoke")));
    assert_eq!(
        d["introspection_endpoint"],
        json!(format!("{i}/introspect"))
    );
    assert_eq!(d["end_session_endpoint"], json!(format!("{i}/logout")));
    assert_eq!(strings(&d["response_types_supported"]), vec!["code"]);
    assert_eq!(
        sorted(strings(&d["grant_types_supported"])),
        set(&["authorization_code", "refresh_token", "client_credentials"])
    );
    assert_eq!(
        strings(&d["code_challenge_methods_supported"]),
        vec!["S256"]
    );
    assert_eq!(
        sorted(strings(&d["scopes_supported"])),
        set(&["openid", "profile", "email", "offline_access", "roles"])
    );
    assert_eq!(
        sorted(strings(&d["token_endpoint_auth_methods_supported"])),
        set(&["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        strings(&d["id_token_signing_alg_values_supported"]),
        vec!["RS256", "ES256", "EdDSA"]
    );
    assert_eq!(
        d["authorization_response_iss_parameter_supported"],
        json!(true)
    );
    let grants = strings(&d["grant_types_supported"]);
    assert!(!grants.iter().any(|g| g == "password" || g == "implicit"));
}

#[tokio::test]
async fn jwks_serves_public_rsa_keys_named_by_their_rfc7638_thumbprint() {
    let app = TestApp::spawn().await;
    let (signing_kid, _) = app.signing_key();

    let reply = app.get("/jwks").await;

    assert_eq!(reply.status, 200);
    let keys = reply.json()["keys"].as_array().expect("keys").clone();
    assert_eq!(
        keys.len(),
        3,
        "one key of each type on a fresh server: {}",
        reply.body
    );
    // RS256 first, for relying parties that take the first key.
    let key = &keys[0];
    assert_eq!(key["kty"], json!("RSA"));
    assert_eq!(key["use"], json!("sig"));
    assert_eq!(key["alg"], json!("RS256"));
    assert_eq!(key["kid"], json!(signing_kid));
    for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
        assert!(key.get(private).is_none(), "JWKS leaks `{private}`");
    }
    // RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace.
    let n = key["n"].as_str().expect("n");
    let e = key["e"].as_str().expect("e");
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(key["kid"], json!(thumbprint));
    let modulus = URL_SAFE_NO_PAD.decode(n).expect("base64url n");
    assert!(modulus.len() >= 256, "RSA-2048 or larger");

    // The EC (P-256) and OKP (Ed25519) keys, also named by their thumbprints.
    let (ec, okp) = (&keys[1], &keys[2]);
    let member = |k: &serde_json::Value, m: &str| k[m].as_str().expect(m).to_string();
    assert_eq!(
        (ec["kty"].clone(), ec["crv"].clone()),
        (json!("EC"), json!("P-256"))
    );
    assert_eq!(
        (ec["alg"].clone(), ec["use"].clone()),
        (json!("ES256"), json!("sig"))
    );
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        member(ec, "x"),
        member(ec, "y")
    );
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(ec["kid"], json!(thumbprint));
    assert_eq!(
        (okp["kty"].clone(), okp["crv"].clone()),
        (json!("OKP"), json!("Ed25519"))
    );
    assert_eq!(
        (okp["alg"].clone(), okp["use"].clone()),
        (json!("EdDSA"), json!("sig"))
    );
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        member(okp, "x")
    );
    let thumbprint = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    assert_eq!(okp["kid"], json!(thumbprint));
    for key in [ec, okp] {
        assert!(key.get("d").is_none(), "JWKS leaks `d`");
    }
}

#[tokio::test]
async fn jwks_and_discovery_bodies_never_mention_private_key_material() {
    let app = TestApp::spawn().await;
    let (_, pem) = app.signing_key();
    let pem = String::from_utf8(pem).expect("PEM");
    let body_line = pem.lines().nth(1).expect("a PEM body line");

    for path in ["/jwks", "/.well-known/openid-configuration"] {
        let reply = app.get(path).await;
        assert!(!reply.body.contains(body_line), "{path} leaks the PEM");
        assert!(!reply.body.contains("PRIVATE"), "{path}");
    }
}

#[tokio::test]
async fn private_key_files_are_written_0600() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn().await;
    let (kid, _) = app.signing_key();

    let meta = std::fs::metadata(app.keys_dir.join(format!("{kid}.pem"))).expect("key file");

    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
}

#[tokio::test]
async fn health_and_readiness_answer_200() {
    let app = TestApp::spawn().await;

    assert_eq!(app.get("/healthz").await.status, 200);
    assert_eq!(app.get("/readyz").await.status, 200);
}

#[tokio::test]
async fn a_key_rotated_by_another_process_is_published_first_and_signs_later() {
    let app = TestApp::spawn_with_env(&[
        ("TESSERA_KEY_RELOAD_INTERVAL", "1s"),
        ("TESSERA_KEY_PREPUBLISH", "4s"),
    ])
    .await;
    let signing_kid = || async {
        let reply = app
            .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
            .await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let token = reply.json()["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        jsonwebtoken::decode_header(&token)
            .expect("header")
            .kid
            .expect("kid")
    };
    let (old_kid, _) = app.signing_key();
    let vault = tessera::crypto::keys::KeyVault::new(app.keys_dir.clone(), None);
    let rotated_at = std::time::Instant::now();
    let mut conn = app.db.conn().expect("db connection");
    let new_kid = tessera::manage::rotate_key(
        &mut conn,
        &vault,
        tessera::crypto::alg::SigningAlg::RS256,
        tessera::clock::now(),
        4,
    )
    .expect("rotate");
    drop(conn);

    // The running server reloads keys every second; wait for at most three rounds.
    let mut kids = Vec::new();
    for _ in 0..12 {
        kids = app
            .jwks()
            .await
            .keys
            .iter()
            .filter_map(|k| k.common.key_id.clone())
            .collect::<Vec<_>>();
        if kids.contains(&new_kid) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(kids.contains(&new_kid), "new key published: {kids:?}");
    assert!(kids.contains(&old_kid), "old key still published: {kids:?}");
    if rotated_at.elapsed() < std::time::Duration::from_secs(3) {
        assert_eq!(
            signing_kid().await,
            old_kid,
            "the new key signs before its time"
        );
    }

    let mut signer = signing_kid().await;
    for _ in 0..40 {
        if signer == new_kid {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        signer = signing_kid().await;
    }

    assert_eq!(signer, new_kid, "the new key signs once pre-published");
    assert!(rotated_at.elapsed() >= std::time::Duration::from_secs(3));
    let kids: Vec<String> = app
        .jwks()
        .await
        .keys
        .iter()
        .filter_map(|k| k.common.key_id.clone())
        .collect();
    assert!(
        kids.contains(&old_kid),
        "the retired key stays published while its tokens live: {kids:?}"
    );
}
