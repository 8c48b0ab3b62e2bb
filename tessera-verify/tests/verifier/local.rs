//! A small local identity provider for the verifier's own tests: RSA keys it generates, a real
//! HTTP server on port 0 serving discovery and a JWKS it can change, and a signer.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, web};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use tessera_verify::Verifier;

pub const AUDIENCE: &str = "orders-api";

/// An RSA key pair with a kid.
#[derive(Clone)]
pub struct TestKey {
    pub kid: String,
    pub pem: Vec<u8>,
}

impl TestKey {
    pub fn generate(kid: &str) -> Self {
        let mut rng = rsa::rand_core::OsRng;
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("generate an RSA key");
        let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PEM");
        Self {
            kid: kid.to_string(),
            pem: pem.as_bytes().to_vec(),
        }
    }

    pub fn jwk(&self) -> Jwk {
        let enc = EncodingKey::from_rsa_pem(&self.pem).expect("RSA PEM");
        let mut jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).expect("a JWK");
        jwk.common.key_id = Some(self.kid.clone());
        jwk
    }

    /// Signs `claims` with RS256, this key's kid and header `typ`.
    pub fn sign(&self, typ: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some(typ.to_string());
        let enc = EncodingKey::from_rsa_pem(&self.pem).expect("RSA PEM");
        jsonwebtoken::encode(&header, claims, &enc).expect("sign")
    }
}

struct Published {
    keys: Vec<TestKey>,
    cache_control: String,
}

/// The local provider: its issuer URL, its keys, and how often its JWKS was fetched.
#[derive(Clone)]
pub struct LocalIssuer {
    pub issuer: String,
    published: Arc<Mutex<Published>>,
    jwks_hits: Arc<AtomicUsize>,
}

impl LocalIssuer {
    /// Serves `keys` with `Cache-Control: {cache_control}`.
    pub async fn start(keys: Vec<TestKey>, cache_control: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let issuer = format!("http://127.0.0.1:{port}");
        let me = Self {
            issuer: issuer.clone(),
            published: Arc::new(Mutex::new(Published {
                keys,
                cache_control: cache_control.to_string(),
            })),
            jwks_hits: Arc::new(AtomicUsize::new(0)),
        };
        let state = me.clone();
        let server = HttpServer::new(move || {
            let state = state.clone();
            let discovery = state.issuer.clone();
            App::new()
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let issuer = discovery.clone();
                        async move {
                            HttpResponse::Ok().json(json!({
                                "issuer": issuer,
                                "jwks_uri": format!("{issuer}/jwks"),
                            }))
                        }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(move || {
                        let state = state.clone();
                        async move {
                            state.jwks_hits.fetch_add(1, Ordering::SeqCst);
                            let published = state.published.lock().expect("lock");
                            let set = JwkSet {
                                keys: published.keys.iter().map(TestKey::jwk).collect(),
                            };
                            HttpResponse::Ok()
                                .insert_header(("cache-control", published.cache_control.clone()))
                                .json(set)
                        }
                    }),
                )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        me
    }

    pub fn publish(&self, keys: Vec<TestKey>) {
        self.published.lock().expect("lock").keys = keys;
    }

    pub fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// A verifier for this issuer with the test's refetch interval.
    pub fn verifier(&self, min_refetch: Duration) -> Verifier {
        Verifier::builder(&self.issuer)
            .audience(AUDIENCE)
            .min_refetch_interval(min_refetch)
            .build()
            .expect("a verifier")
    }

    /// Access token claims for `AUDIENCE`, valid for ten minutes, with `changes` applied.
    pub fn access_claims(&self, changes: Value) -> Value {
        let now = now();
        let mut claims = json!({
            "iss": self.issuer, "sub": "user-1", "aud": AUDIENCE, "client_id": AUDIENCE,
            "scope": "openid orders:read", "jti": "jti-1", "iat": now, "exp": now + 600,
        });
        for (k, v) in changes.as_object().expect("an object") {
            if v.is_null() {
                claims.as_object_mut().expect("an object").remove(k);
            } else {
                claims[k] = v.clone();
            }
        }
        claims
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64
}

/// Three keys shared by the tests (RSA key generation is the slow part).
pub fn keys() -> &'static [TestKey; 3] {
    static KEYS: std::sync::OnceLock<[TestKey; 3]> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate("key-1"),
            TestKey::generate("key-2"),
            TestKey::generate("key-3"),
        ]
    })
}
