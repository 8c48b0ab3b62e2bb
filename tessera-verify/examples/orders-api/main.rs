//! An example relying API: a small actix-web service whose routes are protected by access
//! tokens from Tessera, verified locally with the provider's public keys.
//!
//! ```sh
//! TESSERA_ISSUER=http://127.0.0.1:8080 API_AUDIENCE=my-app API_BIND=127.0.0.1:3000 \
//!   cargo run -p tessera-verify --example orders-api
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:3000/orders
//! ```
//!
//! `API_AUDIENCE` is the client id (or several, comma-separated) whose access tokens the API
//! accepts: Tessera puts the client id in an access token's `aud`.

mod routes;

use actix_web::{App, HttpServer};
use tessera_verify::Verifier;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let issuer = setting("TESSERA_ISSUER", "http://127.0.0.1:8080");
    let audiences = setting("API_AUDIENCE", "my-app");
    let bind = setting("API_BIND", "127.0.0.1:3000");
    let mut builder = Verifier::builder(&issuer).realm("orders-api");
    for audience in audiences
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        builder = builder.audience(audience);
    }
    let verifier = builder.build().map_err(std::io::Error::other)?;
    // Fetch the keys now so that the first request does not wait (and a wrong issuer shows).
    match verifier.refresh_keys().await {
        Ok(n) => println!("Fetched {n} signing key(s) from {issuer}."),
        Err(e) => eprintln!("Could not fetch the keys yet ({e}); will retry on demand."),
    }
    println!("Orders API listening on http://{bind}");
    HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .configure(routes::configure)
    })
    .bind(&bind)?
    .run()
    .await
}
