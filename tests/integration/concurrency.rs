//! Races between instances: the same code or refresh token redeemed at two servers on one
//! database at the same moment. Exactly one wins; the other gets `invalid_grant`, and what the
//! winner received is revoked (a replay means the secret leaked).

use crate::browser::AuthRequest;
use crate::helpers::{Reply, Table, TestApp, WEB, WEB_REDIRECT, str_field};

/// Rounds per race: each round is a fresh code or token redeemed twice in parallel.
const ROUNDS: usize = 6;

/// Exactly one of two replies is a 200; the other is `invalid_grant`. Answers the winner's JSON.
fn one_winner(a: Reply, b: Reply, what: &str) -> serde_json::Value {
    let (won, lost) = match (a.status, b.status) {
        (200, _) => (a, b),
        (_, 200) => (b, a),
        _ => panic!(
            "{what}: nobody won: {} {} / {} {}",
            a.status, a.body, b.status, b.body
        ),
    };
    lost.assert_oauth_error(400, "invalid_grant", what);
    won.json()
}

/// The winner's tokens no longer work: the access token is inactive and the refresh token
/// (of the revoked family) is refused.
async fn assert_revoked(app: &TestApp, won: &serde_json::Value, what: &str) {
    let access = str_field(won, "access_token");
    assert!(
        !app.is_active(WEB, &access).await,
        "{what}: the winner's access token is still active"
    );
    let refresh = str_field(won, "refresh_token");
    app.refresh(app.basic(WEB), &refresh)
        .await
        .assert_oauth_error(400, "invalid_grant", what);
}

#[tokio::test]
async fn a_code_redeemed_at_two_instances_at_once_has_one_winner() {
    let one = TestApp::spawn().await;
    let two = one.another_instance(&[]).await;
    let browser = one.browser();
    for round in 0..ROUNDS {
        let req = AuthRequest::for_client(WEB);
        let code = browser.code_for(&one, &req).await["code"].clone();
        let (a, b) = tokio::join!(
            one.redeem(one.basic(WEB), &code, WEB_REDIRECT, req.verifier()),
            two.redeem(two.basic(WEB), &code, WEB_REDIRECT, req.verifier()),
        );
        let what = format!("code race, round {round}");
        let won = one_winner(a, b, &what);
        assert_revoked(&one, &won, &what).await;
    }
}

#[tokio::test]
async fn a_refresh_token_used_at_two_instances_at_once_has_one_winner() {
    let one = TestApp::spawn().await;
    let two = one.another_instance(&[]).await;
    for round in 0..ROUNDS {
        let (_, tokens) = one.tokens_for(WEB, "openid offline_access").await;
        let refresh = str_field(&tokens, "refresh_token");
        let (a, b) = tokio::join!(
            one.refresh(one.basic(WEB), &refresh),
            two.refresh(two.basic(WEB), &refresh),
        );
        let what = format!("refresh race, round {round}");
        let won = one_winner(a, b, &what);
        assert_revoked(&two, &won, &what).await;
        assert!(
            !one.is_active(WEB, &str_field(&tokens, "access_token"))
                .await,
            "{what}: the first access token of the family is still active"
        );
    }
}

/// The statement that decides a refresh race (`tokens::rotate_into`, one statement on
/// PostgreSQL): of two rotations of one token, only the first stores its successor, and a
/// revoked token is not rotated at all.
#[tokio::test]
async fn a_refresh_token_rotates_once_and_only_the_winner_stores_a_successor() {
    use tessera::db::tokens::{self, RefreshToken};

    let app = TestApp::spawn().await;
    let (_, tokens) = app.tokens_for(WEB, "openid offline_access").await;
    let hash = tessera::crypto::random::hash(&str_field(&tokens, "refresh_token"));
    let mut conn = app.db.conn().expect("db");
    let row = tokens::find(&mut conn, &hash)
        .expect("find")
        .expect("the token is stored");
    let successor = |name: &str| RefreshToken {
        token_hash: tessera::crypto::random::hash(name),
        access_jti: name.to_string(),
        ..row.clone()
    };
    let now = tessera::clock::now();
    let stored = app.count(Table::RefreshTokens);

    assert!(tokens::rotate_into(&mut conn, &hash, now, &successor("first")).expect("rotate"));
    assert!(!tokens::rotate_into(&mut conn, &hash, now, &successor("second")).expect("rotate"));

    assert_eq!(app.count(Table::RefreshTokens), stored + 1);
    let first = tokens::find(&mut conn, &successor("first").token_hash).expect("find");
    assert_eq!(first.map(|t| t.access_jti), Some("first".to_string()));
    assert!(
        tokens::find(&mut conn, &successor("second").token_hash)
            .expect("find")
            .is_none()
    );
    let rotated = tokens::find(&mut conn, &hash).expect("find").expect("kept");
    assert_eq!(rotated.rotated_at, Some(now));

    tokens::revoke_family(&mut conn, &row.family_id, now, now + 60).expect("revoke");
    let first_hash = successor("first").token_hash;
    assert!(
        !tokens::rotate_into(&mut conn, &first_hash, now, &successor("third")).expect("rotate"),
        "a revoked token rotated"
    );
    assert_eq!(app.count(Table::RefreshTokens), stored + 1);
}

/// Instances started together on an empty database (a rollout behind a load balancer) all
/// start: one creates the bootstrap admin, the others find it, and there is exactly one.
#[test]
fn instances_starting_together_on_an_empty_database_all_start() {
    const INSTANCES: usize = 4;
    let dir = tempfile::tempdir().expect("temp dir");
    let database = crate::backend::TestDatabase::create(dir.path());
    let mut env = std::collections::HashMap::new();
    env.insert(
        "TESSERA_DATABASE_URL".to_string(),
        database.url().to_string(),
    );
    env.insert(
        "TESSERA_KEYS_DIR".to_string(),
        dir.path().join("keys").display().to_string(),
    );
    let config = tessera::config::Config::from_sources(&env, None).expect("valid config");
    // Migrations first, as the first instance of a rollout would; the race is the bootstrap.
    let db = tessera::db::Db::connect(&config.database).expect("db");
    db.migrate().expect("migrate");
    let start = std::sync::Barrier::new(INSTANCES);

    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..INSTANCES)
            .map(|_| {
                s.spawn(|| {
                    let mut conn = db.conn().expect("conn");
                    start.wait();
                    tessera::manage::bootstrap_admin(&mut conn, None, tessera::clock::now())
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("no panic"))
            .collect()
    });

    let passwords: Vec<_> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|e| panic!("an instance failed to start: {e}")))
        .collect();
    assert!(
        passwords.iter().filter(|p| p.is_some()).count() <= 1,
        "at most one instance generated the admin password"
    );
    let mut conn = db.conn().expect("conn");
    let admins = tessera::db::users::find_by_username(&mut conn, "admin")
        .expect("query")
        .expect("the admin exists");
    assert!(admins.is_admin);
}
