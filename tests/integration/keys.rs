//! Signing keys kept in the database (sealed with TESSERA_KEY_ENCRYPTION_KEY) and shared by
//! several instances: a rotation on one instance reaches every JWKS before the new key signs,
//! so a relying party never meets a token it cannot verify.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use tessera::db::schema::signing_keys;

use crate::browser::AuthRequest;
use crate::helpers::{SERVICE, TestApp, WEB, WEB_REDIRECT, str_field};

/// 32 bytes of base64, as `openssl rand -base64 32` prints.
const KEK: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";
const OTHER_KEK: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Settings of instances that share keys through the database and rotate quickly.
const SHARED_KEYS: &[(&str, &str)] = &[
    ("TESSERA_KEY_ENCRYPTION_KEY", KEK),
    ("TESSERA_KEY_RELOAD_INTERVAL", "1s"),
    ("TESSERA_KEY_PREPUBLISH", "4s"),
];

fn stored_keys(app: &TestApp) -> Vec<(String, Option<String>)> {
    let mut conn = app.db.conn().expect("connection");
    signing_keys::table
        .select((signing_keys::kid, signing_keys::private_key))
        .load(&mut *conn)
        .expect("key rows")
}

/// Builds a server on `app`'s database with these settings; answers the start-up error.
fn start_error(app: &TestApp, extra: &[(&str, &str)]) -> String {
    let mut env: HashMap<String, String> = HashMap::new();
    env.insert("TESSERA_DATABASE_URL".into(), app.database.url().into());
    env.insert(
        "TESSERA_KEYS_DIR".into(),
        app.keys_dir.display().to_string(),
    );
    env.insert("TESSERA_ADMIN_PASSWORD".into(), "admin-password-123".into());
    for (k, v) in extra {
        env.insert(k.to_string(), v.to_string());
    }
    let config = tessera::config::Config::from_sources(&env, None).expect("config");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    match tessera::startup::Application::build(config, Some(listener)) {
        Ok(_) => panic!("the server started"),
        Err(e) => format!("{e:#}"),
    }
}

#[tokio::test]
async fn keys_in_the_database_are_sealed_and_need_the_same_encryption_key() {
    let app = TestApp::spawn_with_env(SHARED_KEYS).await;

    let rows = stored_keys(&app);
    assert_eq!(rows.len(), 3, "one key of each type");
    for (kid, sealed) in &rows {
        let sealed = sealed
            .as_deref()
            .expect("the private key is in the database");
        assert!(
            sealed.starts_with("v1.") && !sealed.contains("PRIVATE"),
            "{sealed}"
        );
        assert!(
            !app.keys_dir.join(format!("{kid}.pem")).exists(),
            "no key file is written when keys live in the database"
        );
    }
    let all = tessera::db::keys::all(&mut app.db.conn().expect("db")).expect("key rows");
    let kid = all
        .into_iter()
        .find(|r| r.alg == "RS256")
        .expect("RS256")
        .kid;
    let bytes = app.database.bytes();
    assert!(
        !bytes.windows(11).any(|w| w == b"PRIVATE KEY"),
        "a PEM private key is stored in clear"
    );
    let reply = app
        .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let (header, _) = app
        .verify_jwt(&str_field(&reply.json(), "access_token"), Some(SERVICE))
        .await;
    assert_eq!(header.kid.as_deref(), Some(kid.as_str()));

    let wrong = start_error(&app, &[("TESSERA_KEY_ENCRYPTION_KEY", OTHER_KEK)]);
    assert!(wrong.contains("cannot be decrypted"), "{wrong}");
    let missing = start_error(&app, &[]);
    assert!(missing.contains("TESSERA_KEY_ENCRYPTION_KEY"), "{missing}");
    assert!(!wrong.contains(KEK) && !wrong.contains(OTHER_KEK));
}

/// Verifies `token` against the JWKS that `app` serves now, as a relying party would.
async fn verifies_at(app: &TestApp, token: &str) -> Result<(), String> {
    let reply = app.get("/jwks").await;
    let jwks: JwkSet = serde_json::from_str(&reply.body).map_err(|e| e.to_string())?;
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| format!("kid {kid} not in the JWKS of {}", app.base))?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&app.issuer]);
    validation.validate_aud = false;
    jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token)
        .expect("header")
        .kid
        .expect("kid")
}

#[tokio::test]
async fn three_instances_share_sessions_tokens_and_a_rotation_without_a_failed_verification() {
    let one = TestApp::spawn_with_env(SHARED_KEYS).await;
    let two = one.another_instance(&[]).await;
    // Instances reload on their own schedules; the slowest one every 3 s.
    let three = one
        .another_instance(&[("TESSERA_KEY_RELOAD_INTERVAL", "3s")])
        .await;
    let instances = [&one, &two, &three];

    // Sign in at instance 1, redeem the code at 2, refresh at 3.
    let browser = one.browser();
    let req = AuthRequest::for_client(WEB);
    let code = browser.code_for(&one, &req).await["code"].clone();
    let redeemed = two
        .redeem(two.basic(WEB), &code, WEB_REDIRECT, req.verifier())
        .await;
    assert_eq!(redeemed.status, 200, "{}", redeemed.body);
    let refreshed = three
        .refresh(
            three.basic(WEB),
            &str_field(&redeemed.json(), "refresh_token"),
        )
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let id_token = str_field(&refreshed.json(), "id_token");
    for app in instances {
        verifies_at(app, &id_token)
            .await
            .expect("the ID token verifies");
        assert_eq!(
            app.userinfo(&str_field(&refreshed.json(), "access_token"))
                .await
                .status,
            200
        );
    }
    let old_kid = kid_of(&id_token);

    // Rotate on instance 1 while tokens from every instance are checked against every JWKS.
    let vault = tessera::crypto::keys::KeyVault::new(
        one.keys_dir.clone(),
        Some(tessera::config::KeyEncryptionKey::parse(KEK).expect("kek")),
    );
    let new_kid = {
        let mut conn = one.db.conn().expect("connection");
        tessera::manage::rotate_key(
            &mut conn,
            &vault,
            tessera::crypto::alg::SigningAlg::RS256,
            tessera::clock::now(),
            4,
        )
        .expect("rotate")
    };
    let started = Instant::now();
    let (mut checked, mut failures, mut by_new_key) = (0, Vec::new(), 0);
    while started.elapsed() < Duration::from_secs(9) {
        for issuer in instances {
            let reply = issuer
                .token(
                    issuer.basic(SERVICE),
                    &[("grant_type", "client_credentials")],
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let token = str_field(&reply.json(), "access_token");
            if kid_of(&token) == new_kid {
                by_new_key += 1;
            }
            for verifier in instances {
                checked += 1;
                if let Err(e) = verifies_at(verifier, &token).await {
                    failures.push(e);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(
        failures.is_empty(),
        "{} of {checked} failed: {failures:?}",
        failures.len()
    );
    assert!(by_new_key > 0, "the new key never signed during the loop");
    assert_ne!(old_kid, new_kid);
    for app in instances {
        verifies_at(app, &id_token)
            .await
            .expect("tokens of the old key still verify after the rotation");
    }
}
