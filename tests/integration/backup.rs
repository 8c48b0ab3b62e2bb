//! Data safety: back the database up while the server runs, lose it, restore it, and a
//! refresh token issued before the backup still works (signing keys kept in the database
//! come back with it).

use std::collections::HashMap;

use crate::helpers::{ADMIN_PASSWORD, TestApp, WEB, str_field};

const KEK: &str = "3q2+7wABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGho=";

#[test]
fn backup_wipe_restore_keeps_refresh_tokens_and_keys() {
    // A server issues tokens; the backup is taken while it runs.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let (database, files, issuer, secret, refresh, kid, backup) = runtime.block_on(async {
        let app = TestApp::spawn_with_env(&[("TESSERA_KEY_ENCRYPTION_KEY", KEK)]).await;
        let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
        let (header, _) = app
            .verify_jwt(&str_field(&tokens, "id_token"), Some(WEB))
            .await;
        let backup = app.files().path().join("backup.dump");
        app.database.backup(&backup);
        (
            app.database.clone(),
            app.files(),
            app.issuer.clone(),
            app.secret(WEB).to_string(),
            str_field(&tokens, "refresh_token"),
            header.kid.expect("kid"),
            backup,
        )
    });
    // The server stops; the database is lost.
    drop(runtime);
    database.wipe();

    database.restore(&backup);

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("addr").port()
        );
        let env: HashMap<String, String> = [
            ("TESSERA_ISSUER", issuer.as_str()),
            ("TESSERA_DATABASE_URL", database.url()),
            (
                "TESSERA_KEYS_DIR",
                &files.path().join("no-keys-here").display().to_string(),
            ),
            ("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("TESSERA_KEY_ENCRYPTION_KEY", KEK),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let config = tessera::config::Config::from_sources(&env, None).expect("config");
        let app = tessera::startup::Application::build(config, Some(listener)).expect("start");
        tokio::spawn(app.run_until_stopped());

        let reply = reqwest::Client::new()
            .post(format!("{base}/token"))
            .basic_auth(WEB, Some(&secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", &refresh)])
            .send()
            .await
            .expect("POST /token");

        assert_eq!(
            reply.status().as_u16(),
            200,
            "the refresh token survived the restore"
        );
        let body: serde_json::Value = reply.json().await.expect("JSON");
        let id_token = str_field(&body, "id_token");
        let header = jsonwebtoken::decode_header(&id_token).expect("header");
        assert_eq!(
            header.kid.as_deref(),
            Some(kid.as_str()),
            "the same signing key"
        );
    });
}
