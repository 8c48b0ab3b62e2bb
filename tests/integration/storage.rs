//! What reaches the database: secrets only as hashes, and codes that live at most 60 seconds.

use diesel::prelude::*;
use tessera::db::schema::auth_codes;

use crate::browser::AuthRequest;
use crate::helpers::{ALICE_PASSWORD, TestApp, WEB, WEB_REDIRECT};

/// What the database keeps on disk, as bytes.
fn database_bytes(app: &TestApp) -> Vec<u8> {
    app.database.bytes()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn no_secret_is_stored_in_clear() {
    let app = TestApp::spawn().await;
    let browser = app.browser();
    let req = AuthRequest::for_client(WEB);
    let params = browser.code_for(&app, &req).await;
    let code = params["code"].clone();
    let reply = app
        .redeem(app.basic(WEB), &code, WEB_REDIRECT, req.verifier())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let refresh = reply.json()["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let cookie = browser.session_cookie().expect("session cookie");

    let bytes = database_bytes(&app);

    for (what, secret) in [
        ("authorization code", code.as_str()),
        ("refresh token", refresh.as_str()),
        ("session cookie", cookie.as_str()),
        ("client secret", app.secret(WEB)),
        ("password", ALICE_PASSWORD),
        ("PKCE verifier", req.verifier().expect("verifier")),
    ] {
        assert!(!contains(&bytes, secret), "the {what} is stored in clear");
    }
}

#[tokio::test]
async fn codes_live_at_most_60_seconds() {
    let app = TestApp::spawn().await;
    app.browser()
        .code_for(&app, &AuthRequest::for_client(WEB))
        .await;

    let mut conn = app.db.conn().expect("connection");
    let rows: Vec<(i64, i64)> = auth_codes::table
        .select((auth_codes::created_at, auth_codes::expires_at))
        .load(&mut *conn)
        .expect("auth codes");

    assert_eq!(rows.len(), 1);
    let (created, expires) = rows[0];
    assert!(
        expires > created && expires - created <= 60,
        "{created}..{expires}"
    );
}
