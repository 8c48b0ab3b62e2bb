//! The admin JSON API over HTTP: authorization (401/403), every operation, bad input answered
//! with problem details that change nothing, and the OpenAPI document.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::admin_support::*;
use crate::helpers::{ALICE, ALICE_PASSWORD, ClientAuth, SERVICE, TestApp, str_field};

fn concrete(path: &str) -> String {
    path.replace("{client_id}", "webapp")
        .replace("{user_id}", "nobody")
        .replace("{sid}", "nosession")
        .replace("{kid}", "nokey")
}

#[tokio::test]
async fn every_route_refuses_missing_bad_and_non_admin_tokens() {
    let app = TestApp::spawn().await;
    let tool_secret = register_tool(&app);
    let alice = person_tokens(
        &app,
        &tool_secret,
        ALICE,
        ALICE_PASSWORD,
        "openid tessera:admin",
    )
    .await;
    // A person without the admin role is never granted the scope.
    assert!(
        !str_field(&alice, "scope").contains("tessera:admin"),
        "{alice}"
    );
    let alice_token = str_field(&alice, "access_token");
    let service = app
        .token(app.basic(SERVICE), &[("grant_type", "client_credentials")])
        .await;
    let no_scope_token = str_field(&service.json(), "access_token");

    for (method, path) in ROUTES {
        let path = concrete(path);
        let body = (*method != "get" && *method != "delete").then(|| json!({}));
        let none = call(&app, method, &path, None, body.clone()).await;
        assert_problem(&none, 401, &format!("{method} {path} without a token"));
        assert!(
            none.header("www-authenticate")
                .unwrap_or("")
                .starts_with("Bearer")
        );

        let bad = call(&app, method, &path, Some("not-a-jwt"), body.clone()).await;
        assert_problem(&bad, 401, &format!("{method} {path} with a bad token"));
        assert!(
            bad.header("www-authenticate")
                .unwrap_or("")
                .contains("invalid_token")
        );

        for (who, token) in [
            ("alice", &alice_token),
            ("a client without the scope", &no_scope_token),
        ] {
            let reply = call(&app, method, &path, Some(token), body.clone()).await;
            assert_problem(&reply, 403, &format!("{method} {path} as {who}"));
            assert!(
                reply
                    .header("www-authenticate")
                    .unwrap_or("")
                    .contains("insufficient_scope")
            );
        }
    }
    // Nothing was changed by any of those calls.
    let admin = service_token(&app).await;
    let clients = call(&app, "get", "/admin/api/v1/clients", Some(&admin), None).await;
    assert!(
        clients
            .json()
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["client_id"] == "webapp")
    );
}

#[tokio::test]
async fn a_revoked_admin_token_and_a_demoted_admin_are_refused() {
    let app = TestApp::spawn().await;
    let token = admin_person_token(&app).await;
    let ok = call(&app, "get", "/admin/api/v1/dashboard", Some(&token), None).await;
    assert_eq!(ok.status, 200, "{}", ok.body);

    let service = service_token(&app).await;
    let mut conn = app.db.conn().expect("db");
    let admin_id = tessera::db::users::find_by_username(&mut conn, "admin")
        .expect("query")
        .expect("admin")
        .id;
    drop(conn);
    // Make alice an admin so that the bootstrap admin may be demoted.
    let alice = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{}", app.alice_id),
        Some(&service),
        Some(json!({"roles": ["admin"]})),
    )
    .await;
    assert_eq!(alice.status, 200, "{}", alice.body);
    let demote = call(
        &app,
        "patch",
        &format!("/admin/api/v1/users/{admin_id}"),
        Some(&service),
        Some(json!({"roles": []})),
    )
    .await;
    assert_eq!(demote.status, 200, "{}", demote.body);

    let refused = call(&app, "get", "/admin/api/v1/dashboard", Some(&token), None).await;
    assert_problem(&refused, 403, "a token of a person who lost the admin role");
}

#[tokio::test]
async fn revoked_service_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let secret = register(
        &app,
        client("robot", &[], &["client_credentials"], &["tessera:admin"]),
    )
    .expect("secret");
    let reply = app
        .token(
            ClientAuth::Basic("robot", &secret),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "tessera:admin"),
            ],
        )
        .await;
    let token = str_field(&reply.json(), "access_token");
    assert_eq!(
        call(&app, "get", "/admin/api/v1/keys", Some(&token), None)
            .await
            .status,
        200
    );

    let revoked = app
        .revoke(ClientAuth::Basic("robot", &secret), &token)
        .await;
    assert_eq!(revoked.status, 200, "{}", revoked.body);

    let after = call(&app, "get", "/admin/api/v1/keys", Some(&token), None).await;
    assert_problem(&after, 401, "a revoked token");
}

#[tokio::test]
async fn openapi_document_lists_every_route() {
    let app = TestApp::spawn().await;

    let reply = app.get("/admin/api/v1/openapi.json").await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    let doc = reply.json();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            listed.insert((method.clone(), path.clone()));
        }
    }
    let expected: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(listed, expected);
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "{}",
        doc["components"]
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
}

#[tokio::test]
async fn clients_are_created_read_changed_rotated_and_deleted() {
    let app = TestApp::spawn().await;
    let t = service_token(&app).await;
    let t = Some(t.as_str());

    let created = call(&app, "post", "/admin/api/v1/clients", t, Some(json!({
        "client_id": "shop", "name": "Shop", "redirect_uris": ["https://shop.example/cb"],
        "grant_types": ["authorization_code", "client_credentials"], "scopes": ["openid", "email"]
    }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let body = created.json();
    let secret = str_field(&body, "client_secret");
    assert_eq!(body["client"]["public"], false);
    assert_eq!(body["client"]["scopes"], json!(["openid", "email"]));
    let cc = [("grant_type", "client_credentials")];
    assert_eq!(
        app.token(ClientAuth::Basic("shop", &secret), &cc)
            .await
            .status,
        200
    );

    let one = call(&app, "get", "/admin/api/v1/clients/shop", t, None).await;
    assert_eq!(
        one.json()["redirect_uris"],
        json!(["https://shop.example/cb"])
    );
    let list = call(&app, "get", "/admin/api/v1/clients", t, None).await;
    assert!(
        list.json()
            .as_array()
            .expect("list")
            .iter()
            .any(|c| c["client_id"] == "shop")
    );

    let patched = call(
        &app,
        "patch",
        "/admin/api/v1/clients/shop",
        t,
        Some(json!({
            "name": "Shop 2", "redirect_uris": ["https://shop.example/cb2"], "first_party": true
        })),
    )
    .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    let p = patched.json();
    assert_eq!(
        (p["name"].clone(), p["first_party"].clone()),
        (json!("Shop 2"), json!(true))
    );
    assert_eq!(p["redirect_uris"], json!(["https://shop.example/cb2"]));
    assert_eq!(
        p["grant_types"],
        json!(["authorization_code", "client_credentials"])
    );

    let rotated = call(&app, "post", "/admin/api/v1/clients/shop/secret", t, None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = str_field(&rotated.json(), "client_secret");
    assert_ne!(new_secret, secret);
    assert_eq!(
        app.token(ClientAuth::Basic("shop", &secret), &cc)
            .await
            .status,
        401
    );
    assert_eq!(
        app.token(ClientAuth::Basic("shop", &new_secret), &cc)
            .await
            .status,
        200
    );

    let deleted = call(&app, "delete", "/admin/api/v1/clients/shop", t, None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_problem(
        &call(&app, "get", "/admin/api/v1/clients/shop", t, None).await,
        404,
        "deleted client",
    );
    assert_problem(
        &call(&app, "delete", "/admin/api/v1/clients/shop", t, None).await,
        404,
        "second delete",
    );
    assert_eq!(
        app.token(ClientAuth::Basic("shop", &new_secret), &cc)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn bad_client_input_gets_problem_details_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let token = service_token(&app).await;
    let t = Some(token.as_str());
    let before = call(&app, "get", "/admin/api/v1/clients", t, None)
        .await
        .body;

    let cases: Vec<(Value, u16)> = vec![
        (
            json!({"client_id": "x", "name": "X", "redirect_uris": ["not a uri"]}),
            422,
        ),
        (
            json!({"client_id": "x", "name": "X", "redirect_uris": ["https://x.example/cb#frag"]}),
            422,
        ),
        (
            json!({"client_id": "bad id!", "name": "X", "redirect_uris": ["https://x.example/cb"]}),
            422,
        ),
        (
            json!({"client_id": "x", "name": "X", "grant_types": ["password"], "redirect_uris": ["https://x.example/cb"]}),
            422,
        ),
        (
            json!({"client_id": "x", "name": "X", "public": true, "grant_types": ["client_credentials"]}),
            422,
        ),
        (
            json!({"client_id": "webapp", "name": "Dup", "redirect_uris": ["https://x.example/cb"]}),
            409,
        ),
        (json!({"client_id": "x", "name": "X", "surprise": 1}), 400),
        (json!({"client_id": 7, "name": "X"}), 400),
        (json!({"name": "no id"}), 400),
    ];
    for (body, status) in cases {
        let reply = call(&app, "post", "/admin/api/v1/clients", t, Some(body.clone())).await;
        assert_problem(&reply, status, &format!("create {body}"));
    }
    let raw = app
        .api
        .post(app.url("/admin/api/v1/clients"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("POST");
    assert_problem(
        &crate::helpers::Reply::read(raw).await,
        400,
        "malformed JSON",
    );

    for (body, status) in [
        (json!({"redirect_uris": []}), 422),
        (json!({"scopes": ["bad\"scope"]}), 422),
        (json!({"name": ""}), 422),
        (json!({"first_party": "yes"}), 400),
    ] {
        let reply = call(
            &app,
            "patch",
            "/admin/api/v1/clients/webapp",
            t,
            Some(body.clone()),
        )
        .await;
        assert_problem(&reply, status, &format!("patch {body}"));
    }
    assert_problem(
        &call(
            &app,
            "patch",
            "/admin/api/v1/clients/nope",
            t,
            Some(json!({"name": "N"})),
        )
        .await,
        404,
        "patch unknown",
    );
    assert_problem(
        &call(&app, "post", "/admin/api/v1/clients/spa/secret", t, None).await,
        422,
        "public client secret",
    );
    assert_problem(
        &call(&app, "post", "/admin/api/v1/clients/nope/secret", t, None).await,
        404,
        "unknown client secret",
    );

    let after = call(&app, "get", "/admin/api/v1/clients", t, None)
        .await
        .body;
    assert_eq!(before, after, "a refused request changed the clients");
}
