//! The test server (`TestApp`): its own port and database (a SQLite file, or a PostgreSQL
//! database in the PostgreSQL pass), the standard fixtures, and typed helpers for the protocol
//! endpoints and the database.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Once};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use diesel::prelude::*;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use reqwest::header::HeaderMap;
use serde_json::Value;
use tessera::db::schema;
use tessera::manage::{NewClient, NewUser};

use crate::backend::TestDatabase;
use crate::browser::{AuthRequest, Browser};

pub const ALICE: &str = "alice";
pub const ALICE_PASSWORD: &str = "correct horse battery staple";
pub const ALICE_EMAIL: &str = "alice@example.com";
pub const ALICE_NAME: &str = "Alice Liddell";
pub const ADMIN_PASSWORD: &str = "admin-password-123";

/// Confidential web app: asks for consent; code and refresh grants.
pub const WEB: &str = "webapp";
pub const WEB_REDIRECT: &str = "https://rp.example/callback";
pub const WEB_LOGOUT: &str = "https://rp.example/signed-out";
/// Public single-page app: no secret, PKCE required; asks for consent.
pub const SPA: &str = "spa";
pub const SPA_REDIRECT: &str = "https://spa.example/cb";
/// Confidential first-party app: no consent page.
pub const PORTAL: &str = "portal";
pub const PORTAL_REDIRECT: &str = "https://portal.example/cb";
pub const PORTAL_LOGOUT: &str = "https://portal.example/bye";
/// Confidential first-party app registered for the code grant only (no refresh_token grant).
pub const NOREFRESH: &str = "norefresh";
pub const NOREFRESH_REDIRECT: &str = "https://norefresh.example/cb";
/// Public native app with a loopback redirect URI (RFC 8252 7.3: any port).
pub const NATIVE: &str = "native";
pub const NATIVE_REDIRECT: &str = "http://127.0.0.1/callback";
/// Backend service: client_credentials only.
pub const SERVICE: &str = "service";

static TRACING: Once = Once::new();

/// Logs stay quiet unless `TEST_LOG` is set, or go to the secrets audit folder when one is set.
fn init_tracing() {
    TRACING.call_once(|| {
        if crate::audit::init_log() {
            return;
        }
        if std::env::var_os("TEST_LOG").is_some() {
            tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(
                    "debug,actix_server=warn",
                ))
                .with_test_writer()
                .init();
        }
    });
}

/// A running server with its fixtures.
pub struct TestApp {
    /// `http://127.0.0.1:{port}` unless the test chose another issuer.
    pub issuer: String,
    /// Where to reach the server (differs from `issuer` only for an https issuer).
    pub base: String,
    pub db: tessera::db::Db,
    pub keys_dir: PathBuf,
    /// The database itself, whichever the backend (shared by every instance of one test).
    pub database: Arc<TestDatabase>,
    /// A client without cookies that never follows redirects.
    pub api: reqwest::Client,
    pub alice_id: String,
    secrets: HashMap<&'static str, String>,
    /// Settings of this instance beyond the standard ones.
    extra_env: Vec<(String, String)>,
    _dir: Arc<tempfile::TempDir>,
}

/// How a request to the token, introspection or revocation endpoint authenticates the client.
#[derive(Debug, Clone, Copy)]
pub enum ClientAuth<'a> {
    /// `Authorization: Basic` (client_secret_basic).
    Basic(&'a str, &'a str),
    /// `client_id` and `client_secret` in the body (client_secret_post).
    Post(&'a str, &'a str),
    /// A public client: `client_id` in the body only.
    Public(&'a str),
    /// No client identification at all.
    Anonymous,
}

/// An HTTP answer, read completely.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
    pub url: url::Url,
}

impl Reply {
    pub async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let body = resp.text().await.expect("read the response body");
        crate::audit::observe(status, &headers, &body);
        Self {
            status,
            headers,
            body,
            url,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected JSON ({e}), got {} with body: {}",
                self.status, self.body
            )
        })
    }

    /// The `error` member of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"]
            .as_str()
            .unwrap_or_else(|| panic!("no `error` in {} {}", self.status, self.body))
            .to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// The `Location` header resolved against the request URL.
    pub fn location(&self) -> url::Url {
        let raw = self
            .header("location")
            .unwrap_or_else(|| panic!("no Location in {} {}", self.status, self.body));
        self.url.join(raw).expect("a valid Location")
    }

    /// Asserts a redirect after a GET (302 or 303) and answers its query parameters.
    pub fn redirect_query(&self) -> HashMap<String, String> {
        assert!(
            matches!(self.status, 302 | 303),
            "expected a redirect: {} {}",
            self.status,
            self.body
        );
        query_of(&self.location())
    }

    /// Asserts a 401 carrying a Bearer challenge with `error="invalid_token"`.
    pub fn assert_invalid_token(&self, what: &str) {
        assert_eq!(self.status, 401, "{what}: status, body {}", self.body);
        let challenge = self.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
            "{what}: WWW-Authenticate was `{challenge}`"
        );
    }

    /// Asserts a JSON OAuth error with this status and code.
    pub fn assert_oauth_error(&self, status: u16, code: &str, what: &str) {
        assert_eq!(self.status, status, "{what}: status, body {}", self.body);
        assert_eq!(self.error(), code, "{what}: error code");
    }
}

/// The string member `name` of a JSON object (a token response, introspection answer, …).
pub fn str_field(v: &Value, name: &str) -> String {
    v[name]
        .as_str()
        .unwrap_or_else(|| panic!("no `{name}` in {v}"))
        .to_string()
}

/// The parameters of a URL's query, each name at most once.
pub fn query_of(url: &url::Url) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for (k, v) in url.query_pairs() {
        let previous = out.insert(k.to_string(), v.to_string());
        assert!(previous.is_none(), "`{k}` repeated in {url}");
    }
    out
}

/// A row count of one table, to show that a rejected request stored nothing.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    AuthCodes,
    Sessions,
    RefreshTokens,
    Consents,
    RevokedAccessTokens,
}

impl TestApp {
    /// A server with the standard fixtures and the default configuration.
    pub async fn spawn() -> Self {
        Self::spawn_with_issuer(None).await
    }

    /// A server whose issuer is `issuer(port)` when given (e.g. an https issuer).
    pub async fn spawn_with_issuer(issuer: Option<fn(u16) -> String>) -> Self {
        Self::spawn_custom(issuer, &[]).await
    }

    /// A server with extra `TESSERA_*` settings (e.g. `TESSERA_MFA=required`).
    pub async fn spawn_with_env(settings: &[(&str, &str)]) -> Self {
        Self::spawn_custom(None, settings).await
    }

    async fn spawn_custom(issuer: Option<fn(u16) -> String>, extra: &[(&str, &str)]) -> Self {
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let database = Arc::new(TestDatabase::create(dir.path()));
        let keys_dir = dir.path().join("keys");
        let extra: Vec<(String, String)> = extra
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let issuer = issuer.map(|f| Box::new(f) as Box<dyn FnOnce(u16) -> String>);
        let (base, issuer, db) = start_instance(issuer, &database, &keys_dir, &extra);
        let (alice_id, secrets) = create_fixtures(&db);
        for secret in secrets
            .values()
            .map(String::as_str)
            .chain([ALICE_PASSWORD, ADMIN_PASSWORD])
        {
            crate::audit::secret(secret);
        }
        Self {
            issuer,
            base,
            db,
            keys_dir,
            database,
            api: http_client(),
            alice_id,
            secrets,
            extra_env: extra,
            _dir: dir,
        }
    }

    /// Another server on this one's database, keys folder and issuer, as behind a load
    /// balancer, with the same settings plus `extra`; the fixtures are shared.
    pub async fn another_instance(&self, extra: &[(&str, &str)]) -> Self {
        let mut env = self.extra_env.clone();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let issuer = self.issuer.clone();
        let (base, _, db) = start_instance(
            Some(Box::new(move |_| issuer.clone())),
            &self.database,
            &self.keys_dir,
            &env,
        );
        Self {
            issuer: self.issuer.clone(),
            base,
            db,
            keys_dir: self.keys_dir.clone(),
            database: Arc::clone(&self.database),
            api: http_client(),
            alice_id: self.alice_id.clone(),
            secrets: self.secrets.clone(),
            extra_env: env,
            _dir: Arc::clone(&self._dir),
        }
    }

    /// Keeps this server's temporary folder (keys, SQLite file) alive beyond the server.
    pub fn files(&self) -> Arc<tempfile::TempDir> {
        Arc::clone(&self._dir)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The generated secret of a confidential fixture client.
    pub fn secret(&self, client_id: &str) -> &str {
        self.secrets
            .get(client_id)
            .unwrap_or_else(|| panic!("{client_id} has no secret"))
    }

    /// Client authentication by client_secret_basic for a confidential fixture client.
    pub fn basic<'a>(&'a self, client_id: &'a str) -> ClientAuth<'a> {
        ClientAuth::Basic(client_id, self.secret(client_id))
    }

    /// A fresh browser (cookie jar, no automatic redirects).
    pub fn browser(&self) -> Browser {
        Browser::new(&self.base)
    }

    pub async fn get(&self, path: &str) -> Reply {
        let resp = self.api.get(self.url(path)).send().await.expect("GET");
        Reply::read(resp).await
    }

    /// POSTs `form` to `path` with the client authentication added.
    pub async fn post_authenticated(
        &self,
        path: &str,
        auth: ClientAuth<'_>,
        form: &[(&str, &str)],
    ) -> Reply {
        let mut form: Vec<(&str, &str)> = form.to_vec();
        let mut req = self.api.post(self.url(path));
        match auth {
            ClientAuth::Basic(id, secret) => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = STANDARD.encode(format!("{}:{}", enc(id), enc(secret)));
                req = req.header("authorization", format!("Basic {credentials}"));
            }
            ClientAuth::Post(id, secret) => {
                form.push(("client_id", id));
                form.push(("client_secret", secret));
            }
            ClientAuth::Public(id) => form.push(("client_id", id)),
            ClientAuth::Anonymous => {}
        }
        let resp = req.form(&form).send().await.expect("POST");
        Reply::read(resp).await
    }

    pub async fn token(&self, auth: ClientAuth<'_>, form: &[(&str, &str)]) -> Reply {
        self.post_authenticated("/token", auth, form).await
    }

    pub async fn introspect(&self, auth: ClientAuth<'_>, token: &str) -> Reply {
        self.post_authenticated("/introspect", auth, &[("token", token)])
            .await
    }

    pub async fn revoke(&self, auth: ClientAuth<'_>, token: &str) -> Reply {
        self.post_authenticated("/revoke", auth, &[("token", token)])
            .await
    }

    /// Whether introspection by `client` (the token's owner) says the token is active.
    pub async fn is_active(&self, client: &str, token: &str) -> bool {
        let reply = self.introspect(self.basic(client), token).await;
        assert_eq!(reply.status, 200, "introspection: {}", reply.body);
        reply.json()["active"]
            .as_bool()
            .unwrap_or_else(|| panic!("`active` missing: {}", reply.body))
    }

    pub async fn userinfo(&self, access_token: &str) -> Reply {
        let resp = self
            .api
            .get(self.url("/userinfo"))
            .bearer_auth(access_token)
            .send()
            .await
            .expect("GET /userinfo");
        Reply::read(resp).await
    }

    /// Redeems a code; `auth` is the client's authentication.
    pub async fn redeem(
        &self,
        auth: ClientAuth<'_>,
        code: &str,
        redirect_uri: &str,
        verifier: Option<&str>,
    ) -> Reply {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        self.token(auth, &form).await
    }

    pub async fn refresh(&self, auth: ClientAuth<'_>, refresh_token: &str) -> Reply {
        self.token(
            auth,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// A full code flow for alice with `client` (consent allowed when asked), redeemed at the
    /// token endpoint; answers the browser and the token response (asserted 200).
    pub async fn tokens_for(&self, client: &str, scope: &str) -> (Browser, Value) {
        let browser = self.browser();
        let req = AuthRequest::for_client(client).scope(scope);
        let tokens = self.redeemed(&browser, &req, self.auth_for(client)).await;
        (browser, tokens)
    }

    /// Runs `req` in `browser` (alice signs in if needed, consent allowed) and redeems the
    /// code with `auth`; answers the token response (asserted 200).
    pub async fn redeemed(
        &self,
        browser: &Browser,
        req: &AuthRequest,
        auth: ClientAuth<'_>,
    ) -> Value {
        let params = browser.code_for(self, req).await;
        let reply = self
            .redeem(auth, &params["code"], &req.redirect_uri, req.verifier())
            .await;
        assert_eq!(reply.status, 200, "code redemption: {}", reply.body);
        reply.json()
    }

    /// How a fixture client authenticates at the token endpoint.
    pub fn auth_for<'a>(&'a self, client: &'a str) -> ClientAuth<'a> {
        match self.secrets.get(client) {
            Some(secret) => ClientAuth::Basic(client, secret),
            None => ClientAuth::Public(client),
        }
    }

    pub async fn jwks(&self) -> JwkSet {
        let reply = self.get("/jwks").await;
        assert_eq!(reply.status, 200);
        serde_json::from_str(&reply.body).expect("a JWK set")
    }

    /// Verifies an RS256 JWT against the published JWKS (independently of the server's code)
    /// and answers its header and claims; `aud` is checked when given.
    pub async fn verify_jwt(
        &self,
        token: &str,
        aud: Option<&str>,
    ) -> (jsonwebtoken::Header, Value) {
        let header = jsonwebtoken::decode_header(token).expect("a JWT header");
        assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
        let kid = header.kid.clone().expect("a kid in the JWT header");
        let jwks = self.jwks().await;
        let jwk = jwks.find(&kid).expect("the kid is published in the JWKS");
        let key = DecodingKey::from_jwk(jwk).expect("an RSA JWK");
        let mut validation = Validation::new(jsonwebtoken::Algorithm::RS256);
        validation.set_issuer(&[&self.issuer]);
        match aud {
            Some(a) => validation.set_audience(&[a]),
            None => validation.validate_aud = false,
        }
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation).expect("a valid JWT");
        (header, data.claims)
    }

    /// The active RS256 signing key: its kid and its private key PEM, read from the keys folder.
    pub fn signing_key(&self) -> (String, Vec<u8>) {
        let mut conn = self.db.conn().expect("db connection");
        let rows = tessera::db::keys::all(&mut conn).expect("key rows");
        let row = rows
            .iter()
            .find(|r| r.retired_at.is_none() && r.alg == "RS256")
            .expect("an active key");
        let pem = std::fs::read(self.keys_dir.join(format!("{}.pem", row.kid))).expect("key file");
        (row.kid.clone(), pem)
    }

    /// Disables or enables alice with a database edit, behind the server's back: disabling
    /// her through Tessera would also revoke her tokens and end her sessions.
    pub fn set_alice_disabled_in_the_database(&self, disabled: bool) {
        let mut conn = self.db.conn().expect("db connection");
        diesel::update(schema::users::table.find(&self.alice_id))
            .set(schema::users::disabled.eq(disabled))
            .execute(&mut *conn)
            .expect("update alice");
    }

    pub fn count(&self, table: Table) -> i64 {
        let mut conn = self.db.conn().expect("db connection");
        let conn = &mut *conn;
        let n = match table {
            Table::AuthCodes => schema::auth_codes::table.count().get_result(conn),
            Table::Sessions => schema::sessions::table.count().get_result(conn),
            Table::RefreshTokens => schema::refresh_tokens::table.count().get_result(conn),
            Table::Consents => schema::consents::table.count().get_result(conn),
            Table::RevokedAccessTokens => schema::revoked_access_tokens::table
                .count()
                .get_result(conn),
        };
        n.expect("count rows")
    }
}

/// A client without cookies that never follows redirects.
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client")
}

/// Starts a server on port 0 with the standard settings plus `extra`; answers its base URL,
/// its issuer and its database handle.
fn start_instance(
    issuer: Option<Box<dyn FnOnce(u16) -> String>>,
    database: &TestDatabase,
    keys_dir: &std::path::Path,
    extra: &[(String, String)],
) -> (String, String, tessera::db::Db) {
    init_tracing();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    let port = listener.local_addr().expect("local address").port();
    let base = format!("http://127.0.0.1:{port}");
    let issuer = issuer.map_or_else(|| base.clone(), |f| f(port));
    let mut env = HashMap::new();
    env.insert("TESSERA_ISSUER".to_string(), issuer.clone());
    env.insert("TESSERA_DATABASE_URL".to_string(), database.url().into());
    env.insert(
        "TESSERA_KEYS_DIR".to_string(),
        keys_dir.display().to_string(),
    );
    env.insert("TESSERA_ADMIN_PASSWORD".to_string(), ADMIN_PASSWORD.into());
    env.extend(extra.iter().cloned());
    let config = tessera::config::Config::from_sources(&env, None).expect("valid config");
    let app = tessera::startup::Application::build(config, Some(listener)).expect("build");
    let db = app.db();
    tokio::spawn(app.run_until_stopped());
    (base, issuer, db)
}

/// Alice and the fixture clients; answers alice's id and the generated client secrets.
pub fn create_fixtures(db: &tessera::db::Db) -> (String, HashMap<&'static str, String>) {
    let mut conn = db.conn().expect("db connection");
    let now = tessera::clock::now();
    let alice = tessera::manage::create_user(
        &mut conn,
        NewUser {
            username: ALICE.into(),
            email: ALICE_EMAIL.into(),
            password: ALICE_PASSWORD.into(),
            name: Some(ALICE_NAME.into()),
            admin: false,
        },
        now,
    )
    .expect("create alice");
    let mut secrets = HashMap::new();
    let fixture = |id: &'static str,
                   redirect: &str,
                   logout: Option<&str>,
                   public: bool,
                   first_party: bool,
                   grants: &[&str]| {
        (
            id,
            NewClient {
                client_id: String::from(id),
                name: format!("The {id} app"),
                redirect_uris: (!redirect.is_empty())
                    .then(|| redirect.to_string())
                    .into_iter()
                    .collect(),
                post_logout_redirect_uris: logout.map(str::to_string).into_iter().collect(),
                public,
                grant_types: grants.iter().map(|g| g.to_string()).collect(),
                scopes: vec![],
                first_party,
                secret: None,
                id_token_signed_response_alg: Default::default(),
            },
        )
    };
    let clients = [
        fixture(WEB, WEB_REDIRECT, Some(WEB_LOGOUT), false, false, &[]),
        fixture(SPA, SPA_REDIRECT, None, true, false, &[]),
        fixture(
            PORTAL,
            PORTAL_REDIRECT,
            Some(PORTAL_LOGOUT),
            false,
            true,
            &[],
        ),
        fixture(
            NOREFRESH,
            NOREFRESH_REDIRECT,
            None,
            false,
            true,
            &["authorization_code"],
        ),
        fixture(NATIVE, NATIVE_REDIRECT, None, true, true, &[]),
        fixture(SERVICE, "", None, false, false, &["client_credentials"]),
    ];
    for (id, client) in clients {
        let secret = tessera::manage::create_client(&mut conn, client, now)
            .unwrap_or_else(|e| panic!("create client {id}: {e}"));
        if let Some(s) = secret {
            secrets.insert(id, s);
        }
    }
    (alice.id, secrets)
}
