//! Refresh tokens that outlived their idle or absolute lifetime, and client secrets that are
//! too short to be registered. Time is moved by ageing the stored rows, not by sleeping.

use diesel::prelude::*;
use tessera::db::schema::refresh_tokens;
use tessera::manage::NewClient;

use crate::helpers::{PORTAL, SERVICE, Table, TestApp, str_field};

/// Moves one column of every refresh token of the database into the past.
fn age(app: &TestApp, idle: bool) {
    let past = tessera::clock::now() - 1;
    let mut conn = app.db.conn().expect("db");
    let rows = if idle {
        diesel::update(refresh_tokens::table)
            .set(refresh_tokens::idle_expires_at.eq(past))
            .execute(&mut *conn)
    } else {
        diesel::update(refresh_tokens::table)
            .set(refresh_tokens::family_expires_at.eq(past))
            .execute(&mut *conn)
    };
    assert!(rows.expect("age the refresh tokens") > 0);
}

#[tokio::test]
async fn refresh_tokens_expire_when_idle_and_at_their_absolute_limit() {
    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let refresh = str_field(&tokens, "refresh_token");
    let rotated = app.refresh(app.basic(PORTAL), &refresh).await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let live = str_field(&rotated.json(), "refresh_token");
    {
        let mut conn = app.db.conn().expect("db");
        let limits: Vec<(i64, i64)> = refresh_tokens::table
            .select((
                refresh_tokens::idle_expires_at,
                refresh_tokens::family_expires_at,
            ))
            .load(&mut *conn)
            .expect("rows");
        assert!(
            limits.iter().all(|(idle, family)| idle <= family),
            "rotation never extends past the absolute limit: {limits:?}"
        );
    }

    age(&app, true);
    let idle = app.refresh(app.basic(PORTAL), &live).await;
    idle.assert_oauth_error(400, "invalid_grant", "idle-expired refresh token");
    assert!(
        !app.is_active(PORTAL, &live).await,
        "introspects as inactive"
    );

    let (_, tokens) = app.tokens_for(PORTAL, "openid offline_access").await;
    let second = str_field(&tokens, "refresh_token");
    let rows = app.count(Table::RefreshTokens);
    age(&app, false);
    let absolute = app.refresh(app.basic(PORTAL), &second).await;
    absolute.assert_oauth_error(
        400,
        "invalid_grant",
        "refresh token past its absolute limit",
    );
    assert_eq!(
        app.count(Table::RefreshTokens),
        rows,
        "no successor was stored"
    );
}

#[tokio::test]
async fn client_secrets_shorter_than_256_bits_are_refused_and_generated_ones_are_long() {
    let app = TestApp::spawn().await;
    let client = |id: &str, secret: &str| NewClient {
        client_id: id.into(),
        name: id.into(),
        redirect_uris: vec![],
        post_logout_redirect_uris: vec![],
        public: false,
        grant_types: vec!["client_credentials".into()],
        scopes: vec![],
        first_party: false,
        secret: Some(secret.into()),
        id_token_signed_response_alg: Default::default(),
    };
    let short = "s".repeat(42);
    let enough = format!("{}-long-enough-secret-for-256-bits", "k".repeat(12));
    let (refused, accepted) = {
        let mut conn = app.db.conn().expect("db");
        let now = tessera::clock::now();
        (
            tessera::manage::create_client(&mut conn, client("short", &short), now),
            tessera::manage::create_client(&mut conn, client("enough", &enough), now),
        )
    };

    assert!(refused.is_err(), "a 42-character secret was accepted");
    assert!(accepted.is_ok(), "{accepted:?}");
    let form = [("grant_type", "client_credentials")];
    let short_auth = app
        .token(crate::helpers::ClientAuth::Basic("short", &short), &form)
        .await;
    short_auth.assert_oauth_error(401, "invalid_client", "the refused client does not exist");
    let ok = app
        .token(crate::helpers::ClientAuth::Basic("enough", &enough), &form)
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let generated = app.secret(SERVICE);
    assert!(
        generated.len() >= 43,
        "generated secret of {} characters",
        generated.len()
    );
    assert_ne!(app.secret(PORTAL), generated);
}
