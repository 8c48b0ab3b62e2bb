//! Verifications per second of `tessera-verify` with a warm key cache: an RS256 access token
//! checked end to end (header, cached key, signature, iss/aud/exp/nbf, typed claims).
//!
//! `cargo bench -p tessera-verify` prints criterion's figures and a plain
//! `verifications/s` line measured over two seconds on one thread.

use std::time::{Duration, Instant};

use actix_web::{App, HttpResponse, HttpServer, web};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde_json::{Value, json};
use tessera_verify::Verifier;

struct Setup {
    rt: tokio::runtime::Runtime,
    verifier: Verifier,
    token: String,
}

/// A local issuer serving one RSA-2048 key, a verifier with its cache warmed, and a token.
fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("RSA key");
    let pem = key.to_pkcs8_pem(LineEnding::LF).expect("PEM");
    let enc = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("key");
    let mut jwk: Jwk = Jwk::from_encoding_key(&enc, Algorithm::RS256).expect("JWK");
    jwk.common.key_id = Some("bench-key".into());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let issuer = format!("http://{}", listener.local_addr().expect("address"));
    let (verifier, token) = rt.block_on(async {
        let doc = json!({"issuer": issuer, "jwks_uri": format!("{issuer}/jwks")});
        let set = JwkSet { keys: vec![jwk] };
        let server = HttpServer::new(move || {
            let (doc, set) = (doc.clone(), set.clone());
            App::new()
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let doc = doc.clone();
                        async move { HttpResponse::Ok().json(doc) }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(move || {
                        let set = set.clone();
                        async move {
                            HttpResponse::Ok()
                                .insert_header(("cache-control", "max-age=3600"))
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
        let verifier = Verifier::builder(&issuer)
            .audience("orders-api")
            .build()
            .expect("verifier");
        verifier.refresh_keys().await.expect("warm the key cache");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let claims = json!({
            "iss": issuer, "sub": "4f1c0b9e-user", "aud": "orders-api", "client_id": "orders-api",
            "scope": "openid profile orders:read", "jti": "5b0e2c7e-jti", "iat": now,
            "exp": now + 3600,
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("bench-key".into());
        header.typ = Some("at+jwt".into());
        let token = jsonwebtoken::encode(&header, &claims, &enc).expect("sign");
        (verifier, token)
    });
    Setup {
        rt,
        verifier,
        token,
    }
}

fn bench(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("verify");
    group.throughput(Throughput::Elements(1));
    group.bench_function("access_token_warm_cache", |b| {
        b.iter(|| {
            s.rt.block_on(s.verifier.verify_access_token(&s.token))
                .expect("valid")
        })
    });
    group.bench_function("access_token_as_json_value", |b| {
        b.iter(|| {
            s.rt.block_on(s.verifier.verify_access_token_as::<Value>(&s.token))
                .expect("valid")
        })
    });
    group.finish();

    let fetches = s.verifier.key_set_fetches();
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < Duration::from_secs(2) {
        s.rt.block_on(s.verifier.verify_access_token(&s.token))
            .expect("valid");
        n += 1;
    }
    let per_second = n as f64 / start.elapsed().as_secs_f64();
    println!(
        "tessera-verify: {per_second:.0} verifications/s on one thread with a warm cache \
         ({:.1} µs each; JWKS fetched {} time(s) in all)",
        1e6 / per_second,
        s.verifier.key_set_fetches().max(fetches)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(30)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
