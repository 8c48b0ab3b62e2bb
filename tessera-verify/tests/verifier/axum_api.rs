//! The axum extractor and guards (feature `axum`) in a real axum server, against the local
//! provider: the same answers as the actix-web ones.

use std::time::Duration;

use axum::middleware::from_fn;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::json;
use tessera_verify::axum::{Authenticated, require_role, require_scope};

use crate::local::{LocalIssuer, keys};

async fn orders(user: Authenticated) -> String {
    format!("orders of {}", user.sub)
}

async fn write(user: Authenticated) -> Result<String, tessera_verify::axum::AuthRejection> {
    user.require_scope("orders:write")?;
    Ok("written".into())
}

#[tokio::test]
async fn axum_routes_are_protected_like_actix_ones() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=300").await;
    let app = Router::new()
        .route(
            "/orders",
            get(orders).route_layer(from_fn(require_scope("orders:read"))),
        )
        .route("/write", get(write))
        .route(
            "/admin",
            get(orders).route_layer(from_fn(require_role("admin"))),
        )
        .layer(Extension(provider.verifier(Duration::from_secs(30))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let get = |path: &str, token: Option<String>| {
        let mut req = http.get(format!("{base}{path}"));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        async move {
            let resp = req.send().await.expect("request");
            let status = resp.status().as_u16();
            let challenge = resp
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            (status, challenge, resp.text().await.expect("body"))
        }
    };
    let reader = k1.sign("at+jwt", &provider.access_claims(json!({})));
    let admin = k1.sign(
        "at+jwt",
        &provider.access_claims(json!({"roles": ["admin"]})),
    );
    let expired = k1.sign(
        "at+jwt",
        &provider.access_claims(json!({"exp": 1000, "iat": 900})),
    );

    let (status, challenge, _) = get("/orders", None).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, "Bearer realm=\"orders-api\"")
    );
    let (status, _, body) = get("/orders", Some(reader.clone())).await;
    assert_eq!((status, body.as_str()), (200, "orders of user-1"));
    let (status, challenge, _) = get("/orders", Some(expired)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    let (status, challenge, _) = get("/write", Some(reader.clone())).await;
    assert_eq!(status, 403);
    assert!(challenge.contains("scope=\"orders:write\""), "{challenge}");
    assert_eq!(get("/admin", Some(reader)).await.0, 403);
    assert_eq!(get("/admin", Some(admin)).await.0, 200);
}
