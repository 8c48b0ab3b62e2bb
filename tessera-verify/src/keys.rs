//! The provider's public keys: discovery, the JWKS fetch, and a cache that honours
//! `Cache-Control: max-age` and refetches on an unknown `kid` at most once per interval.
//!
//! Concurrent misses share one fetch: fetching holds an async lock, and whoever waited on it
//! finds the fresh keys (or the "fetched too recently" mark) when it gets its turn.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header;
use serde_json::Value;

use crate::error::{KeySetError, VerifyError};

/// The largest discovery document or JWKS read (a few keys are a few KiB).
const MAX_BODY: usize = 256 * 1024;
/// After a failed fetch, how long before another is tried (keeps a down provider from being
/// hammered by every request, yet recovers quickly).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(2);

/// How long keys are kept and how often they may be fetched.
#[derive(Debug, Clone)]
pub(crate) struct CachePolicy {
    /// Used when the JWKS answer has no `Cache-Control: max-age`.
    pub default_max_age: Duration,
    /// Keys are never kept longer than this, whatever the provider says.
    pub max_age_cap: Duration,
    /// The least time between two fetches (unknown `kid`, or `max-age` shorter than this).
    pub min_refetch_interval: Duration,
}

/// A published key with the one algorithm it verifies: RS256 for an RSA key, ES256 for an
/// EC P-256 key, EdDSA for an OKP Ed25519 key (a JWK `alg`, when present, must agree).
#[derive(Debug)]
pub(crate) struct BoundKey {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// One fetched key set and when it was fetched.
#[derive(Default)]
struct Snapshot {
    keys: HashMap<String, Arc<BoundKey>>,
    /// The last successful fetch.
    fetched_at: Option<Instant>,
    /// Keys are used without a fetch until then.
    fresh_until: Option<Instant>,
    /// The last fetch attempt, successful or not, and its error if it failed.
    attempted_at: Option<Instant>,
    last_error: Option<KeySetError>,
}

impl Snapshot {
    fn is_fresh(&self, now: Instant) -> bool {
        self.fresh_until.is_some_and(|t| now < t)
    }

    /// Whether another fetch now would come too soon after the last attempt.
    fn too_soon(&self, now: Instant, policy: &CachePolicy) -> bool {
        let wait = if self.last_error.is_some() {
            RETRY_AFTER_FAILURE.min(policy.min_refetch_interval)
        } else {
            policy.min_refetch_interval
        };
        self.attempted_at
            .is_some_and(|t| now.saturating_duration_since(t) < wait)
    }
}

/// Where the keys come from and what is cached of them.
pub(crate) struct KeyCache {
    http: reqwest::Client,
    issuer: String,
    policy: CachePolicy,
    snapshot: RwLock<Arc<Snapshot>>,
    /// Held while fetching; holds the JWKS URL once known (configured or discovered).
    fetching: tokio::sync::Mutex<Option<String>>,
    fetches: AtomicU64,
}

impl KeyCache {
    pub fn new(
        http: reqwest::Client,
        issuer: String,
        jwks_uri: Option<String>,
        policy: CachePolicy,
    ) -> Self {
        Self {
            http,
            issuer,
            policy,
            snapshot: RwLock::new(Arc::new(Snapshot::default())),
            fetching: tokio::sync::Mutex::new(jwks_uri),
            fetches: AtomicU64::new(0),
        }
    }

    /// How many times the JWKS was requested from the provider.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> Arc<Snapshot> {
        match self.snapshot.read() {
            Ok(guard) => Arc::clone(&guard),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    fn store(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        match self.snapshot.write() {
            Ok(mut guard) => *guard = snapshot,
            Err(poisoned) => *poisoned.into_inner() = snapshot,
        }
    }

    /// The key for `kid`: from the cache while it is fresh, otherwise after one shared fetch.
    pub async fn key(&self, kid: &str) -> Result<Arc<BoundKey>, VerifyError> {
        let snapshot = self.current();
        if snapshot.is_fresh(Instant::now()) {
            if let Some(key) = snapshot.keys.get(kid) {
                return Ok(Arc::clone(key));
            }
        }
        self.key_after_refresh(kid).await
    }

    async fn key_after_refresh(&self, kid: &str) -> Result<Arc<BoundKey>, VerifyError> {
        let mut jwks_uri = self.fetching.lock().await;
        // Someone may have fetched while this task waited for the lock.
        let snapshot = self.current();
        let now = Instant::now();
        let cached = snapshot.keys.get(kid).cloned();
        let too_soon = snapshot.too_soon(now, &self.policy);
        match (&cached, &snapshot.last_error) {
            // Known and fresh, or stale but just fetched (a max-age below the interval).
            (Some(key), _) if too_soon || snapshot.is_fresh(now) => return Ok(Arc::clone(key)),
            // Unknown, and the provider was asked moments ago: no refetch storm.
            (None, Some(e)) if too_soon && snapshot.fetched_at.is_none() => {
                return Err(VerifyError::KeysUnavailable(e.clone()));
            }
            (None, _) if too_soon => return Err(VerifyError::UnknownKey),
            // Stale, or an unknown kid (perhaps a new key after a rotation): fetch.
            _ => {}
        }
        let outcome = self.fetch(&mut jwks_uri).await;
        let mut next = Snapshot {
            attempted_at: Some(now),
            ..Snapshot::default()
        };
        match outcome {
            Ok((keys, max_age)) => {
                let max_age = max_age
                    .unwrap_or(self.policy.default_max_age)
                    .min(self.policy.max_age_cap)
                    .max(self.policy.min_refetch_interval);
                tracing::debug!(keys = keys.len(), ?max_age, "Fetched the provider's keys.");
                next.keys = keys;
                next.fetched_at = Some(now);
                next.fresh_until = Some(now + max_age);
                let found = next.keys.get(kid).cloned();
                self.store(next);
                found.ok_or(VerifyError::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(%error, "Could not fetch the provider's keys.");
                // Keep serving the keys we had: a provider blip must not log everyone out.
                next.keys = snapshot.keys.clone();
                next.fetched_at = snapshot.fetched_at;
                next.fresh_until = snapshot.fresh_until;
                next.last_error = Some(error.clone());
                self.store(next);
                match (cached, snapshot.fetched_at) {
                    (Some(key), _) => Ok(key),
                    (None, None) => Err(VerifyError::KeysUnavailable(error)),
                    (None, Some(_)) => Err(VerifyError::UnknownKey),
                }
            }
        }
    }

    /// Fetches the key set now, whatever the cache holds, and answers how many keys it has.
    pub async fn refresh(&self) -> Result<usize, KeySetError> {
        let mut jwks_uri = self.fetching.lock().await;
        let now = Instant::now();
        let (keys, max_age) = self.fetch(&mut jwks_uri).await?;
        let max_age = max_age
            .unwrap_or(self.policy.default_max_age)
            .min(self.policy.max_age_cap)
            .max(self.policy.min_refetch_interval);
        let count = keys.len();
        self.store(Snapshot {
            keys,
            fetched_at: Some(now),
            fresh_until: Some(now + max_age),
            attempted_at: Some(now),
            last_error: None,
        });
        Ok(count)
    }

    /// Fetches the JWKS, discovering its URL first when it is not known yet.
    async fn fetch(
        &self,
        jwks_uri: &mut Option<String>,
    ) -> Result<(HashMap<String, Arc<BoundKey>>, Option<Duration>), KeySetError> {
        let uri = match jwks_uri.as_ref() {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover().await?;
                *jwks_uri = Some(uri.clone());
                uri
            }
        };
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let (body, max_age) = self.get_json(&uri).await?;
        let keys = parse_jwks(&body).map_err(|reason| KeySetError::Json {
            url: uri.clone(),
            reason,
        })?;
        Ok((keys, max_age))
    }

    /// Reads the discovery document, checks its issuer and answers its `jwks_uri`.
    async fn discover(&self) -> Result<String, KeySetError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.issuer.trim_end_matches('/')
        );
        let (doc, _) = self.get_json(&url).await?;
        let found = doc["issuer"].as_str().unwrap_or_default();
        if found != self.issuer {
            return Err(KeySetError::IssuerMismatch {
                expected: self.issuer.clone(),
                found: found.to_string(),
            });
        }
        let jwks_uri = doc["jwks_uri"].as_str().ok_or_else(|| KeySetError::Json {
            url: url.clone(),
            reason: "no jwks_uri".into(),
        })?;
        crate::verify::http_url(jwks_uri).map_err(KeySetError::Url)?;
        Ok(jwks_uri.to_string())
    }

    /// GETs a JSON document of bounded size; answers it and its `Cache-Control` max-age.
    async fn get_json(&self, url: &str) -> Result<(Value, Option<Duration>), KeySetError> {
        let http_error = |e: reqwest::Error| KeySetError::Http {
            url: url.to_string(),
            reason: e.to_string(),
        };
        let mut resp = self
            .http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(http_error)?;
        if !resp.status().is_success() {
            return Err(KeySetError::Status {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        let max_age = resp
            .headers()
            .get(header::CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(max_age_of);
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(http_error)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(KeySetError::TooLarge {
                    url: url.to_string(),
                    limit: MAX_BODY,
                });
            }
            body.extend_from_slice(&chunk);
        }
        let json = serde_json::from_slice(&body).map_err(|e| KeySetError::Json {
            url: url.to_string(),
            reason: e.to_string(),
        })?;
        Ok((json, max_age))
    }
}

/// How long a response may be cached according to its `Cache-Control` header:
/// `no-store`/`no-cache` mean zero, otherwise `max-age`; `None` when the header says neither.
pub(crate) fn max_age_of(cache_control: &str) -> Option<Duration> {
    let mut max_age = None;
    for directive in cache_control.split(',') {
        let directive = directive.trim();
        let (name, value) = directive.split_once('=').unwrap_or((directive, ""));
        let name = name.trim().to_ascii_lowercase();
        match name.as_str() {
            "no-store" | "no-cache" => return Some(Duration::ZERO),
            "max-age" => {
                let seconds = value.trim().trim_matches('"').parse::<u64>().ok()?;
                max_age = Some(Duration::from_secs(seconds));
            }
            _ => {}
        }
    }
    max_age
}

/// The signing keys of a JWK set, by `kid`, each bound to its algorithm (see [`BoundKey`]).
/// Keys of other types, curves, algorithms or uses, and keys without a `kid`, are left out; a
/// key set that is not `{"keys": [...]}` is an error.
fn parse_jwks(body: &Value) -> Result<HashMap<String, Arc<BoundKey>>, String> {
    let entries = body["keys"]
        .as_array()
        .ok_or_else(|| "no `keys` array".to_string())?;
    let mut keys = HashMap::new();
    for entry in entries {
        let Ok(jwk) = serde_json::from_value::<Jwk>(entry.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let signs = matches!(
            jwk.common.public_key_use,
            None | Some(PublicKeyUse::Signature)
        );
        let (alg, named) = match &jwk.algorithm {
            AlgorithmParameters::RSA(_) => (Algorithm::RS256, KeyAlgorithm::RS256),
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                (Algorithm::ES256, KeyAlgorithm::ES256)
            }
            AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
                (Algorithm::EdDSA, KeyAlgorithm::EdDSA)
            }
            _ => continue,
        };
        let agrees = jwk.common.key_algorithm.is_none_or(|a| a == named);
        if !signs || !agrees {
            continue;
        }
        if let Ok(key) = DecodingKey::from_jwk(&jwk) {
            keys.insert(kid, Arc::new(BoundKey { alg, key }));
        }
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cache_control_max_age() {
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(max_age_of("public, max-age=300"), s(300));
        assert_eq!(max_age_of("Max-Age=60"), s(60));
        assert_eq!(max_age_of("max-age=\"30\", must-revalidate"), s(30));
        assert_eq!(max_age_of("no-store"), s(0));
        assert_eq!(max_age_of("max-age=300, no-cache"), s(0));
        assert_eq!(max_age_of("public"), None);
        assert_eq!(max_age_of("max-age=soon"), None);
        assert_eq!(max_age_of("max-age=-5"), None);
        assert_eq!(max_age_of(""), None);
    }

    #[test]
    fn jwks_keeps_signing_keys_with_a_kid_bound_to_their_algorithm() {
        let rsa = |kid: Option<&str>, extra: Value| {
            let mut k = json!({"kty": "RSA", "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw", "e": "AQAB"});
            if let Some(kid) = kid {
                k["kid"] = json!(kid);
            }
            for (name, v) in extra.as_object().into_iter().flatten() {
                k[name] = v.clone();
            }
            k
        };
        let set = json!({"keys": [
            rsa(Some("good"), json!({"use": "sig", "alg": "RS256"})),
            rsa(Some("bare"), json!({})),
            rsa(None, json!({})),
            rsa(Some("enc"), json!({"use": "enc"})),
            rsa(Some("ps256"), json!({"alg": "PS256"})),
            rsa(Some("rsa-as-es"), json!({"alg": "ES256"})),
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
            {"kty": "weird", "kid": "unknown-type"},
            {"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256", "use": "sig",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-as-rs", "alg": "RS256",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-384", "kid": "p384", "alg": "ES384",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "alg": "EdDSA",
             "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
        ]});
        let keys = parse_jwks(&set).expect("a key set");
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, ["bare", "ec", "ed", "good"]);
        let alg = |kid: &str| keys.get(kid).map(|k| k.alg);
        assert_eq!(alg("good"), Some(Algorithm::RS256));
        assert_eq!(alg("ec"), Some(Algorithm::ES256));
        assert_eq!(alg("ed"), Some(Algorithm::EdDSA));
        assert!(parse_jwks(&json!({"keys": {}})).is_err());
        assert!(parse_jwks(&json!([])).is_err());
    }
}
