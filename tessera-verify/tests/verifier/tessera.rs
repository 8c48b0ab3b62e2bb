//! A real Tessera server for the verifier's tests, started through `tessera::startup` on
//! port 0 with its own SQLite file, and the example orders API in front of it.

use std::collections::HashMap;
use std::path::PathBuf;

use actix_web::{App, HttpServer};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use tessera::manage::NewClient;
use tessera_verify::Verifier;

#[path = "../../examples/orders-api/routes.rs"]
mod routes;

/// The client whose tokens the orders API accepts.
pub const ORDERS_CLIENT: &str = "orders-client";
/// Another client of the same provider: its tokens are for another audience.
pub const OTHER_CLIENT: &str = "other-client";
/// Clients whose tokens are signed with ES256 and with EdDSA.
pub const ES256_CLIENT: &str = "es256-client";
pub const EDDSA_CLIENT: &str = "eddsa-client";

pub struct Tessera {
    pub issuer: String,
    pub db: tessera::db::Db,
    pub keys_dir: PathBuf,
    pub http: reqwest::Client,
    secrets: HashMap<&'static str, String>,
    _dir: tempfile::TempDir,
}

impl Tessera {
    /// Starts a provider whose access and ID tokens live `ttl` (e.g. `15m`, `3s`).
    pub async fn start(ttl: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let dir = tempfile::tempdir().expect("temp dir");
        let issuer = format!("http://127.0.0.1:{port}");
        let keys_dir = dir.path().join("keys");
        let env: HashMap<String, String> = [
            ("TESSERA_ISSUER", issuer.clone()),
            (
                "TESSERA_DATABASE_URL",
                dir.path().join("t.db").display().to_string(),
            ),
            ("TESSERA_KEYS_DIR", keys_dir.display().to_string()),
            ("TESSERA_ADMIN_PASSWORD", "admin-password-123".to_string()),
            ("TESSERA_ACCESS_TOKEN_TTL", ttl.to_string()),
            ("TESSERA_ID_TOKEN_TTL", ttl.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = tessera::config::Config::from_sources(&env, None).expect("config");
        let app = tessera::startup::Application::build(config, Some(listener)).expect("build");
        let db = app.db();
        tokio::spawn(app.run_until_stopped());

        let mut secrets = HashMap::new();
        let mut conn = db.conn().expect("db connection");
        use tessera::crypto::alg::SigningAlg;
        for (id, alg) in [
            (ORDERS_CLIENT, SigningAlg::RS256),
            (OTHER_CLIENT, SigningAlg::RS256),
            (ES256_CLIENT, SigningAlg::ES256),
            (EDDSA_CLIENT, SigningAlg::EdDSA),
        ] {
            let client = NewClient {
                client_id: id.to_string(),
                name: format!("The {id}"),
                redirect_uris: vec![],
                post_logout_redirect_uris: vec![],
                public: false,
                grant_types: vec!["client_credentials".into()],
                scopes: vec!["orders:read".into(), "orders:write".into()],
                first_party: true,
                secret: None,
                id_token_signed_response_alg: alg,
            };
            let secret = tessera::manage::create_client(&mut conn, client, tessera::clock::now())
                .expect("create client")
                .expect("a confidential client has a secret");
            secrets.insert(id, secret);
        }
        drop(conn);
        Self {
            issuer,
            db,
            keys_dir,
            http: reqwest::Client::new(),
            secrets,
            _dir: dir,
        }
    }

    /// A client credentials access token of `client` with `scope`.
    pub async fn token(&self, client: &'static str, scope: &str) -> String {
        let resp = self
            .http
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(&self.secrets[client]))
            .form(&[("grant_type", "client_credentials"), ("scope", scope)])
            .send()
            .await
            .expect("POST /token");
        assert_eq!(resp.status(), 200, "token endpoint");
        let body: Value = resp.json().await.expect("JSON");
        body["access_token"]
            .as_str()
            .expect("an access_token")
            .to_string()
    }

    /// The kid of the active RS256 signing key and its private key PEM, from the keys folder.
    pub fn signing_key(&self) -> (String, Vec<u8>) {
        let mut conn = self.db.conn().expect("db connection");
        let rows = tessera::db::keys::all(&mut conn).expect("key rows");
        let row = rows
            .iter()
            .find(|r| r.retired_at.is_none() && r.alg == "RS256")
            .expect("an active key");
        let pem = std::fs::read(self.keys_dir.join(format!("{}.pem", row.kid))).expect("key");
        (row.kid.clone(), pem)
    }

    /// The kids the JWKS publishes now.
    pub async fn published_kids(&self) -> Vec<String> {
        let jwks: Value = self
            .http
            .get(format!("{}/jwks", self.issuer))
            .send()
            .await
            .expect("GET /jwks")
            .json()
            .await
            .expect("JSON");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .filter_map(|k| k["kid"].as_str().map(str::to_string))
            .collect()
    }

    /// A verifier for the orders API, trusting this provider.
    pub fn verifier(&self) -> tessera_verify::VerifierBuilder {
        Verifier::builder(&self.issuer)
            .audience(ORDERS_CLIENT)
            .realm("orders-api")
    }
}

/// Starts the example orders API with `verifier` on port 0; answers its base URL.
pub fn start_orders_api(verifier: Verifier) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .configure(routes::configure)
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    format!("http://127.0.0.1:{port}")
}

/// The claims of a JWT, read without verification.
pub fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("JSON")
}
