//! The key cache against a real local HTTP server: Cache-Control is honoured, an unknown kid
//! refetches at most once per interval and concurrent misses share one fetch.

use std::time::Duration;

use tessera_verify::{KeySetError, Verifier, VerifyError};

use crate::local::{LocalIssuer, keys};

#[tokio::test]
async fn keys_are_reused_until_max_age_then_fetched_again() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "public, max-age=1").await;
    let verifier = provider.verifier(Duration::from_millis(100));
    let token = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));

    for _ in 0..5 {
        verifier.verify_access_token(&token).await.expect("valid");
    }
    assert_eq!(provider.jwks_hits(), 1, "one fetch while max-age=1 holds");
    assert_eq!(verifier.key_set_fetches(), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    verifier.verify_access_token(&token).await.expect("valid");
    verifier.verify_access_token(&token).await.expect("valid");
    assert_eq!(provider.jwks_hits(), 2, "max-age passed: fetched once more");
}

#[tokio::test]
async fn a_long_max_age_keeps_the_keys() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "public, max-age=300").await;
    let verifier = provider.verifier(Duration::from_millis(100));
    let token = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));

    verifier.verify_access_token(&token).await.expect("valid");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    verifier.verify_access_token(&token).await.expect("valid");
    assert_eq!(provider.jwks_hits(), 1);
}

#[tokio::test]
async fn max_age_is_capped_by_the_verifier() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=86400").await;
    let verifier = Verifier::builder(&provider.issuer)
        .audience(crate::local::AUDIENCE)
        .min_refetch_interval(Duration::from_millis(100))
        .max_cache_age(Duration::from_secs(1))
        .build()
        .expect("verifier");
    let token = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));

    verifier.verify_access_token(&token).await.expect("valid");
    tokio::time::sleep(Duration::from_millis(1200)).await;
    verifier.verify_access_token(&token).await.expect("valid");
    assert_eq!(provider.jwks_hits(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_once_per_interval_and_concurrent_misses_share_it() {
    let [k1, k2, _] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=300").await;
    let verifier = provider.verifier(Duration::from_secs(1));
    let good = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));
    let unknown = k2.sign("at+jwt", &provider.access_claims(serde_json::json!({})));
    verifier.verify_access_token(&good).await.expect("valid");
    assert_eq!(provider.jwks_hits(), 1);

    // Just fetched: an unknown kid does not fetch again.
    let err = verifier.verify_access_token(&unknown).await;
    assert_eq!(err, Err(VerifyError::UnknownKey));
    assert_eq!(provider.jwks_hits(), 1, "no refetch within the interval");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let attempts = (0..50).map(|_| {
        let verifier = verifier.clone();
        let token = unknown.clone();
        tokio::spawn(async move { verifier.verify_access_token(&token).await })
    });
    for attempt in attempts.collect::<Vec<_>>() {
        let outcome = attempt.await.expect("task");
        assert_eq!(outcome, Err(VerifyError::UnknownKey));
    }
    assert_eq!(
        provider.jwks_hits(),
        2,
        "fifty concurrent misses, one fetch"
    );

    for _ in 0..20 {
        assert!(verifier.verify_access_token(&unknown).await.is_err());
    }
    assert_eq!(provider.jwks_hits(), 2, "still within the interval");
    verifier
        .verify_access_token(&good)
        .await
        .expect("known keys still work");
}

#[tokio::test]
async fn a_key_rotated_in_is_picked_up_by_one_fetch() {
    let [k1, k2, _] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=300").await;
    let verifier = provider.verifier(Duration::from_millis(200));
    let old = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));
    verifier.verify_access_token(&old).await.expect("valid");

    provider.publish(vec![k2.clone(), k1.clone()]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let new = k2.sign("at+jwt", &provider.access_claims(serde_json::json!({})));
    let claims = verifier.verify_access_token(&new).await.expect("new key");
    assert_eq!(claims.sub, "user-1");
    verifier
        .verify_access_token(&old)
        .await
        .expect("old key still published");
    assert_eq!(provider.jwks_hits(), 2);
}

#[tokio::test]
async fn a_key_removed_from_the_jwks_stops_verifying_once_the_cache_expires() {
    let [k1, k2, _] = keys();
    let provider = LocalIssuer::start(vec![k1.clone(), k2.clone()], "max-age=1").await;
    let verifier = provider.verifier(Duration::from_millis(100));
    let token = k1.sign("at+jwt", &provider.access_claims(serde_json::json!({})));
    verifier.verify_access_token(&token).await.expect("valid");

    provider.publish(vec![k2.clone()]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(
        verifier.verify_access_token(&token).await,
        Err(VerifyError::UnknownKey)
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_keys_unavailable_not_a_panic() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("address").port();
    drop(closed);
    let verifier = Verifier::builder(format!("http://127.0.0.1:{port}"))
        .audience("api")
        .build()
        .expect("verifier");
    let [k1, ..] = keys();
    let token = k1.sign("at+jwt", &serde_json::json!({"sub": "x"}));
    match verifier.verify_access_token(&token).await {
        Err(VerifyError::KeysUnavailable(KeySetError::Http { .. })) => {}
        other => panic!("expected KeysUnavailable(Http), got {other:?}"),
    }
    assert!(verifier.refresh_keys().await.is_err());
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let [k1, ..] = keys();
    let provider = LocalIssuer::start(vec![k1.clone()], "max-age=300").await;
    // Same server, but the configured issuer has a trailing path the document does not name.
    let verifier = Verifier::builder(format!("{}/", provider.issuer))
        .audience("api")
        .build()
        .expect("verifier");
    match verifier.refresh_keys().await {
        Err(KeySetError::IssuerMismatch { .. }) => {}
        other => panic!("expected IssuerMismatch, got {other:?}"),
    }
    assert_eq!(provider.jwks_hits(), 0);
}
