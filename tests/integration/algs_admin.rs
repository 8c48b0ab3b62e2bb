//! Per-client signing algorithms in the operator's tools: rotation and retirement of keys of
//! every type through the admin API, the client's algorithm in the admin API, the console
//! form and discovery.

use std::time::Duration;

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use tessera::crypto::alg::SigningAlg;

use crate::admin_support::{assert_problem, call, service_token};
use crate::algs::register_with;
use crate::helpers::{ClientAuth, TestApp, str_field};

#[actix_web::test]
async fn rotation_publishes_new_keys_of_every_type_and_retired_ones_stop_signing() {
    let app = TestApp::spawn_with_env(&[("TESSERA_KEY_PREPUBLISH", "2s")]).await;
    let es = register_with(&app, "app-es", SigningAlg::ES256);
    let ed = register_with(&app, "app-ed", SigningAlg::EdDSA);
    let admin = service_token(&app).await;
    let kids = |jwks: &JwkSet, alg: SigningAlg| -> Vec<String> {
        jwks.keys
            .iter()
            .filter(|k| serde_json::to_value(k).expect("json")["alg"] == alg.as_str())
            .filter_map(|k| k.common.key_id.clone())
            .collect()
    };
    let before = app.jwks().await;

    // Only ES256 rotates with `?alg=ES256`; an unknown algorithm changes nothing.
    let bad = call(
        &app,
        "post",
        "/admin/api/v1/keys?alg=HS256",
        Some(&admin),
        None,
    )
    .await;
    assert_problem(&bad, 400, "unknown alg");
    let one = call(
        &app,
        "post",
        "/admin/api/v1/keys?alg=ES256",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(one.status, 201, "{}", one.body);
    let new = one.json();
    assert_eq!(new["keys"].as_array().map(Vec::len), Some(1), "{new}");
    assert_eq!(new["keys"][0]["alg"], "ES256");
    // Then every type at once.
    let all = call(&app, "post", "/admin/api/v1/keys", Some(&admin), None).await;
    assert_eq!(all.status, 201, "{}", all.body);
    let rotated = all.json();
    let new_kid = |alg: SigningAlg| -> String {
        rotated["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .find(|k| k["alg"] == alg.as_str())
            .and_then(|k| k["kid"].as_str())
            .expect("a new key of each type")
            .to_string()
    };

    // The server reloads its keys within about a second; the new keys sign after the
    // pre-publication delay (2 s here), the old ones stay published.
    let mut after = app.jwks().await;
    for _ in 0..40 {
        if SigningAlg::ALL
            .iter()
            .all(|a| kids(&after, *a).contains(&new_kid(*a)))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = app.jwks().await;
    }
    for alg in SigningAlg::ALL {
        let published = kids(&after, alg);
        assert!(published.contains(&new_kid(alg)), "{alg}: {published:?}");
        for old in kids(&before, alg) {
            assert!(published.contains(&old), "{alg}: old key still published");
        }
        let expected = if alg == SigningAlg::ES256 { 3 } else { 2 };
        assert_eq!(published.len(), expected, "{alg}: {published:?}");
    }
    let signing_kid = |id: &'static str, secret: String| {
        let app = &app;
        async move {
            let reply = app
                .token(
                    ClientAuth::Basic(id, &secret),
                    &[("grant_type", "client_credentials")],
                )
                .await;
            assert_eq!(reply.status, 200, "{}", reply.body);
            let token = str_field(&reply.json(), "access_token");
            jsonwebtoken::decode_header(&token)
                .expect("h")
                .kid
                .expect("kid")
        }
    };
    let mut signer = (String::new(), String::new());
    for _ in 0..60 {
        signer = (
            signing_kid("app-es", es.clone()).await,
            signing_kid("app-ed", ed.clone()).await,
        );
        if signer == (new_kid(SigningAlg::ES256), new_kid(SigningAlg::EdDSA)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        signer,
        (new_kid(SigningAlg::ES256), new_kid(SigningAlg::EdDSA)),
        "each client is signed by the new key of its type"
    );

    // The keys list marks one signing key per type; the old ones are retired but published.
    let list = call(&app, "get", "/admin/api/v1/keys", Some(&admin), None)
        .await
        .json();
    let rows = list.as_array().expect("keys");
    for alg in SigningAlg::ALL {
        let signing: Vec<&Value> = rows
            .iter()
            .filter(|k| k["alg"] == alg.as_str() && k["signing"] == true)
            .collect();
        assert_eq!(signing.len(), 1, "{alg}: {list}");
        assert_eq!(signing[0]["kid"], new_kid(alg).as_str());
    }
    // Retiring the last active key of a type is refused; the others are already retired.
    let last = call(
        &app,
        "post",
        &format!("/admin/api/v1/keys/{}/retire", new_kid(SigningAlg::EdDSA)),
        Some(&admin),
        None,
    )
    .await;
    assert_problem(&last, 422, "retire the only EdDSA key");
}

#[actix_web::test]
async fn the_admin_api_and_discovery_speak_of_the_algorithm() {
    let app = TestApp::spawn().await;
    let discovery = app.get("/.well-known/openid-configuration").await.json();
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256", "ES256", "EdDSA"])
    );

    let admin = service_token(&app).await;
    let body = |alg: Value| {
        json!({"client_id": "made", "name": "Made", "grant_types": ["client_credentials"],
               "scopes": ["api"], "id_token_signed_response_alg": alg})
    };
    for bad in [json!("HS256"), json!("none"), json!("es256"), json!(7)] {
        let reply = call(
            &app,
            "post",
            "/admin/api/v1/clients",
            Some(&admin),
            Some(body(bad.clone())),
        )
        .await;
        assert!(matches!(reply.status, 400 | 422), "{bad}: {}", reply.body);
        let gone = call(
            &app,
            "get",
            "/admin/api/v1/clients/made",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(gone.status, 404, "{bad}: nothing stored");
    }
    let created = call(
        &app,
        "post",
        "/admin/api/v1/clients",
        Some(&admin),
        Some(body(json!("ES256"))),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.json()["client"]["id_token_signed_response_alg"],
        "ES256"
    );
    let secret = str_field(&created.json(), "client_secret");
    let token = |app: &TestApp| {
        let secret = secret.clone();
        let app = app.base.clone();
        async move {
            let client = reqwest::Client::new();
            let reply = client
                .post(format!("{app}/token"))
                .basic_auth("made", Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .expect("token");
            let body: Value = reply.json().await.expect("json");
            let token = str_field(&body, "access_token");
            jsonwebtoken::decode_header(&token).expect("header").alg
        }
    };
    assert_eq!(token(&app).await, Algorithm::ES256);

    let patch = |alg: Value| json!({"id_token_signed_response_alg": alg});
    let refused = call(
        &app,
        "patch",
        "/admin/api/v1/clients/made",
        Some(&admin),
        Some(patch(json!("PS256"))),
    )
    .await;
    assert_problem(&refused, 422, "unknown algorithm");
    let get = call(
        &app,
        "get",
        "/admin/api/v1/clients/made",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        get.json()["id_token_signed_response_alg"],
        "ES256",
        "unchanged"
    );
    let changed = call(
        &app,
        "patch",
        "/admin/api/v1/clients/made",
        Some(&admin),
        Some(patch(json!("EdDSA"))),
    )
    .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["id_token_signed_response_alg"], "EdDSA");
    assert_eq!(token(&app).await, Algorithm::EdDSA);
    let list = call(&app, "get", "/admin/api/v1/clients", Some(&admin), None)
        .await
        .json();
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .all(|c| c["id_token_signed_response_alg"].is_string())
    );

    let openapi = app.get("/admin/api/v1/openapi.json").await;
    assert!(
        openapi.body.contains("id_token_signed_response_alg"),
        "OpenAPI schema"
    );
}

/// The `value` of the option selected in the console's algorithm select.
fn selected_alg(html: &str) -> Option<String> {
    let doc = scraper::Html::parse_document(html);
    let sel =
        scraper::Selector::parse("select[name=id_token_signed_response_alg] option[selected]")
            .expect("selector");
    doc.select(&sel)
        .next()
        .and_then(|o| o.value().attr("value").map(str::to_string))
}

#[actix_web::test]
async fn the_console_client_form_chooses_the_algorithm() {
    let app = TestApp::spawn().await;
    let admin = crate::admin_support::admin_browser(&app).await;
    let blank = admin.get("/admin/clients").await;
    assert_eq!(
        selected_alg(&blank.body).as_deref(),
        Some("RS256"),
        "the default"
    );

    let fields = |alg: &'static str| {
        [
            ("client_id", "console-ed"),
            ("name", "Console EdDSA"),
            ("redirect_uris", "https://console.example/cb"),
            ("grant_client_credentials", "on"),
            ("scopes", "openid api"),
            ("id_token_signed_response_alg", alg),
        ]
    };
    use crate::admin_support::submit_on;
    let refused = submit_on(&admin, "/admin/clients", "/admin/clients", &fields("HS256")).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(
        refused.body.contains("unknown signing algorithm"),
        "{}",
        refused.body
    );
    let mut conn = app.db.conn().expect("db");
    assert!(
        tessera::db::clients::find(&mut conn, "console-ed")
            .expect("q")
            .is_none(),
        "nothing stored"
    );
    drop(conn);

    let created = submit_on(&admin, "/admin/clients", "/admin/clients", &fields("EdDSA")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let page = admin.get("/admin/clients/console-ed").await;
    assert_eq!(selected_alg(&page.body).as_deref(), Some("EdDSA"));
    // The client's own page saves a new algorithm.
    let edit = |alg: &'static str| {
        let admin = &admin;
        async move {
            let form = [
                ("redirect_uris", "https://console.example/cb"),
                ("id_token_signed_response_alg", alg),
            ];
            let page = "/admin/clients/console-ed";
            submit_on(admin, page, page, &form).await
        }
    };
    let saved = edit("ES256").await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = admin.get("/admin/clients/console-ed").await;
    assert_eq!(selected_alg(&page.body).as_deref(), Some("ES256"));
    let bad = edit("none").await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    let mut conn = app.db.conn().expect("db");
    let stored = tessera::db::clients::find(&mut conn, "console-ed")
        .expect("q")
        .expect("client");
    assert_eq!(
        stored.id_token_signed_response_alg,
        SigningAlg::ES256,
        "unchanged"
    );

    // The keys page lists the algorithm of every key.
    let keys = admin.get("/admin/keys").await;
    for alg in SigningAlg::ALL {
        assert!(
            keys.body.contains(&format!("<td>{alg}</td>")),
            "{alg} on the keys page"
        );
    }
}
