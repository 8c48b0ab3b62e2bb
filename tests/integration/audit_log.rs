//! The audit log: events from sign-ins and token reuse, and delivery to a webhook receiver
//! that checks the HMAC signature (and one that fails, to show the retries).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::admin_support::*;
use crate::helpers::{ALICE, ALICE_PASSWORD, PORTAL, TestApp, str_field};

const SECRET: &str = "a-webhook-secret-of-at-least-32-chars";

/// What the receiver saw: (event id, signature valid, body).
type Seen = Arc<Mutex<Vec<(String, bool, Value)>>>;

/// A real HTTP receiver on port 0 that verifies each delivery's signature, answering 500 to
/// the first `failures` deliveries and 204 afterwards. Answers its URL and what it saw.
fn receiver(failures: usize) -> (String, Seen) {
    let seen: Seen = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let state = seen.clone();
    let server = HttpServer::new(move || {
        let state = state.clone();
        App::new().route(
            "/hook",
            web::post().to(move |req: HttpRequest, body: web::Bytes| {
                let state = state.clone();
                async move {
                    let header = |n: &str| {
                        req.headers()
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string()
                    };
                    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
                    mac.update(format!("{}.", header("tessera-timestamp")).as_bytes());
                    mac.update(&body);
                    let expected = format!("sha256={:x}", mac.finalize().into_bytes());
                    let valid = header("tessera-signature") == expected;
                    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mut seen = state.lock().expect("lock");
                    seen.push((header("tessera-event-id"), valid, json));
                    if seen.len() <= failures {
                        HttpResponse::InternalServerError().finish()
                    } else {
                        HttpResponse::NoContent().finish()
                    }
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    (format!("http://127.0.0.1:{port}/hook"), seen)
}

async fn spawn_with_hook(url: &str) -> TestApp {
    TestApp::spawn_with_env(&[
        ("TESSERA_AUDIT_WEBHOOK_URL", url),
        ("TESSERA_AUDIT_WEBHOOK_SECRET", SECRET),
        ("TESSERA_AUDIT_WEBHOOK_RETRY", "50ms"),
    ])
    .await
}

/// Waits up to 10 s for `done` to hold of what the receiver saw.
async fn wait_for(seen: &Seen, done: impl Fn(&[(String, bool, Value)]) -> bool) {
    for _ in 0..200 {
        if done(&seen.lock().expect("lock")) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver did not see what was expected: {:?}",
        seen.lock().expect("lock")
    );
}

#[tokio::test]
async fn sign_ins_are_delivered_to_the_webhook_signed() {
    let (url, seen) = receiver(0);
    let app = spawn_with_hook(&url).await;

    assert_eq!(
        app.browser()
            .sign_in(ALICE, "not her password")
            .await
            .status,
        401
    );
    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        303
    );

    wait_for(&seen, |s| {
        s.iter().any(|(_, _, e)| e["action"] == "user.signed_in")
    })
    .await;
    let seen = seen.lock().expect("lock").clone();
    assert!(
        seen.iter().all(|(_, valid, _)| *valid),
        "every signature verifies: {seen:?}"
    );
    let failed = seen
        .iter()
        .find(|(_, _, e)| e["action"] == "user.sign_in_failed")
        .expect("failure event");
    assert_eq!(failed.2["detail"], format!("username {ALICE}"));
    assert_eq!(failed.2["actor"], "anonymous");
    let ok = seen
        .iter()
        .find(|(_, _, e)| e["action"] == "user.signed_in")
        .expect("sign-in event");
    assert_eq!(ok.2["actor"], format!("user:{}", app.alice_id));
    assert_eq!(
        ok.0,
        str_field(&ok.2, "id"),
        "the event id header names the event"
    );
    let text = format!("{seen:?}");
    assert!(!text.contains(ALICE_PASSWORD) && !text.contains("not her password"));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_with_backoff() {
    let (url, seen) = receiver(2);
    let app = spawn_with_hook(&url).await;

    assert_eq!(
        app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
        303
    );

    wait_for(&seen, |s| s.len() >= 3).await;
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(
        seen.len(),
        3,
        "two failures, then one success, then nothing more"
    );
    assert!(
        seen.iter().all(|(id, valid, _)| *valid && *id == seen[0].0),
        "the same event, signed: {seen:?}"
    );
    assert_eq!(seen[0].2["action"], "user.signed_in");
}

#[tokio::test]
async fn a_sign_in_does_not_wait_for_an_unreachable_webhook() {
    // Nothing listens on this port: every delivery fails at once and is retried later.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", closed.local_addr().expect("addr"));
    drop(closed);
    let app = spawn_with_hook(&url).await;

    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(
            app.browser().sign_in(ALICE, ALICE_PASSWORD).await.status,
            303
        );
    }
    let elapsed = started.elapsed();
    println!("three sign-ins with an unreachable webhook took {elapsed:?}");
    let t = service_token(&app).await;
    let events = call(
        &app,
        "get",
        "/admin/api/v1/audit?q=user.signed_in",
        Some(&t),
        None,
    )
    .await
    .json();
    assert_eq!(events["total"], 3, "every event is still stored");
}

#[tokio::test]
async fn a_reused_refresh_token_revokes_its_family_and_is_audited() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let first = str_field(&tokens, "refresh_token");
    assert_eq!(app.refresh(app.basic(PORTAL), &first).await.status, 200);
    assert_eq!(app.refresh(app.basic(PORTAL), &first).await.status, 400);

    let t = service_token(&app).await;
    let events = call(
        &app,
        "get",
        "/admin/api/v1/audit?q=token.family_revoked",
        Some(&t),
        None,
    )
    .await
    .json();
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(events["events"][0]["actor"], format!("client:{PORTAL}"));
    assert_eq!(events["events"][0]["target"], app.alice_id.as_str());
    assert!(
        !events.to_string().contains(&first),
        "no token in the event"
    );
}

#[tokio::test]
async fn a_refresh_token_revoked_by_its_client_is_audited() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let refresh = str_field(&tokens, "refresh_token");

    assert_eq!(app.revoke(app.basic(PORTAL), &refresh).await.status, 200);

    let t = service_token(&app).await;
    let q = "/admin/api/v1/audit?q=revoked%20by%20the%20client";
    let events = call(&app, "get", q, Some(&t), None).await.json();
    assert_eq!(events["total"], 1, "{events}");
    assert_eq!(events["events"][0]["action"], "token.family_revoked");
    assert_eq!(events["events"][0]["target"], app.alice_id.as_str());
}
