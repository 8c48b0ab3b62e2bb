//! Discovery and the JWKS are served from bytes serialised once per key set: each answer
//! carries a strong ETag, a matching `If-None-Match` gets 304 with no body, and a key rotation
//! picked up by the running server publishes a new JWKS under a new ETag.

use std::time::Duration;

use crate::helpers::{Reply, TestApp};

const DOCUMENTS: [&str; 2] = ["/.well-known/openid-configuration", "/jwks"];

async fn get_with(app: &TestApp, path: &str, if_none_match: &str) -> Reply {
    let resp = app
        .api
        .get(app.url(path))
        .header("If-None-Match", if_none_match)
        .send()
        .await
        .expect("GET");
    Reply::read(resp).await
}

fn etag(reply: &Reply) -> String {
    let tag = reply.header("etag").expect("an ETag").to_string();
    assert!(
        tag.starts_with('"') && tag.ends_with('"') && tag.len() > 2,
        "{tag}"
    );
    tag
}

#[tokio::test]
async fn discovery_and_jwks_answer_304_to_their_current_etag() {
    let app = TestApp::spawn().await;
    for path in DOCUMENTS {
        let first = app.get(path).await;
        assert_eq!(first.status, 200, "{path}: {}", first.body);
        assert!(first.json().is_object(), "{path}: JSON body");
        assert_eq!(
            first.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        assert_eq!(
            first.header("cache-control"),
            Some("public, max-age=300"),
            "{path}"
        );
        let tag = etag(&first);
        let again = app.get(path).await;
        assert_eq!(etag(&again), tag, "{path}: the same document, the same tag");
        assert_eq!(again.body, first.body, "{path}");

        for header in [tag.clone(), format!("W/{tag}"), format!("\"other\", {tag}")] {
            let cached = get_with(&app, path, &header).await;
            assert_eq!(cached.status, 304, "{path} with {header}");
            assert!(cached.body.is_empty(), "{path}: 304 has no body");
            assert_eq!(etag(&cached), tag, "{path}");
        }
        let stale = get_with(&app, path, "\"not-the-current-one\"").await;
        assert_eq!(stale.status, 200, "{path}: another tag gets the document");
        assert_eq!(stale.body, first.body, "{path}");
    }
    let discovery = app.get(DOCUMENTS[0]).await;
    assert_ne!(
        etag(&discovery),
        etag(&app.get(DOCUMENTS[1]).await),
        "each document has its own tag"
    );
}

#[tokio::test]
async fn a_rotation_publishes_a_new_jwks_under_a_new_etag() {
    let app = TestApp::spawn_with_env(&[
        ("TESSERA_KEY_RELOAD_INTERVAL", "1s"),
        ("TESSERA_KEY_PREPUBLISH", "60s"),
    ])
    .await;
    let before = app.get("/jwks").await;
    let old_tag = etag(&before);
    let vault = tessera::crypto::keys::KeyVault::new(app.keys_dir.clone(), None);
    let mut conn = app.db.conn().expect("db connection");
    let new_kid =
        tessera::manage::rotate_key(&mut conn, &vault, tessera::clock::now(), 60).expect("rotate");
    drop(conn);

    let mut after = app.get("/jwks").await;
    for _ in 0..20 {
        if after.body.contains(&new_kid) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        after = app.get("/jwks").await;
    }
    assert!(
        after.body.contains(&new_kid),
        "new key published: {}",
        after.body
    );
    let new_tag = etag(&after);
    assert_ne!(new_tag, old_tag, "a new key set, a new tag");
    let revalidated = get_with(&app, "/jwks", &old_tag).await;
    assert_eq!(revalidated.status, 200, "the old tag is stale");
    assert!(revalidated.body.contains(&new_kid));
}
