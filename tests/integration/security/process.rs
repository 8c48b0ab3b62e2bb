//! The real `tessera` binary as a child process, for tests that must kill it or read its log:
//! its own folder, port, SQLite file and keys, the standard fixtures, standard error to a file.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::helpers::{ADMIN_PASSWORD, Reply, create_fixtures};

/// A `tessera serve` process on a database that outlives it.
pub struct ServerProcess {
    child: Mutex<Option<Child>>,
    pub base: String,
    pub db_path: PathBuf,
    pub log_path: PathBuf,
    env: HashMap<String, String>,
    /// Generated secrets of the fixture clients.
    pub secrets: HashMap<&'static str, String>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind port 0");
    listener.local_addr().expect("local address").port()
}

impl ServerProcess {
    /// Prepares a database with the fixtures and starts the binary on it; `name` names its log.
    pub async fn start(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let db_path = dir.path().join("t.db");
        let env: HashMap<String, String> = [
            ("TESSERA_ISSUER", base.clone()),
            ("TESSERA_BIND", format!("127.0.0.1:{port}")),
            ("TESSERA_DATABASE_URL", db_path.display().to_string()),
            (
                "TESSERA_KEYS_DIR",
                dir.path().join("keys").display().to_string(),
            ),
            ("TESSERA_ADMIN_PASSWORD", ADMIN_PASSWORD.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        let config = tessera::config::Config::from_sources(&env, None).expect("valid config");
        let (db, _) = tessera::startup::prepare(&config).expect("prepare the database");
        let (_, secrets) = create_fixtures(&db);
        for s in secrets.values() {
            crate::audit::secret(s);
        }
        drop(db);
        let log_path = crate::audit::server_log_path(name)
            .unwrap_or_else(|| dir.path().join(format!("{name}.log")));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("http client");
        let server = Self {
            child: Mutex::new(None),
            base,
            db_path,
            log_path,
            env,
            secrets,
            http,
            _dir: dir,
        };
        server.spawn().await;
        server
    }

    /// Starts (or restarts) the binary and waits until `/healthz` answers.
    pub async fn spawn(&self) {
        assert!(self.child().is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("open the server log");
        let child = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .arg("serve")
            .env_clear()
            .envs(&self.env)
            .env("RUST_LOG", "info,tessera=debug,actix_server=warn")
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start tessera serve");
        *self.child() = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = self.http.get(self.url("/healthz")).send().await
                && r.status().as_u16() == 200
            {
                return;
            }
            let exited = self
                .child()
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("tessera exited with {status}: {}", self.log());
            }
            assert!(Instant::now() < deadline, "no /healthz: {}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `kill -9`: the process gets no chance to finish anything.
    pub fn kill9(&self) {
        let mut child = self.child().take().expect("running");
        child.kill().expect("SIGKILL");
        let status = child.wait().expect("reap");
        assert!(!status.success(), "killed, not exited: {status}");
    }

    /// Whether the process is still running.
    pub fn is_running(&self) -> bool {
        self.child()
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    fn child(&self) -> std::sync::MutexGuard<'_, Option<Child>> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The status of `GET /healthz`.
    pub async fn health(&self) -> u16 {
        self.http
            .get(self.url("/healthz"))
            .send()
            .await
            .expect("healthz")
            .status()
            .as_u16()
    }

    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log_path).unwrap_or_default()).into_owned()
    }

    /// A database connection of another process (the test).
    pub fn conn(&self) -> diesel::SqliteConnection {
        use diesel::Connection;
        diesel::SqliteConnection::establish(&self.db_path.display().to_string()).expect("connect")
    }

    /// POSTs a form to the token endpoint with `client_secret_basic`.
    pub async fn token(&self, client: &str, form: &[(&str, &str)]) -> Option<Reply> {
        let secret = self.secrets.get(client).expect("a confidential client");
        let credentials = STANDARD.encode(format!("{client}:{secret}"));
        let resp = self
            .http
            .post(self.url("/token"))
            .header("authorization", format!("Basic {credentials}"))
            .form(form)
            .send()
            .await
            .ok()?;
        try_read(resp).await
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child().take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Whether the log shows a panic.
pub fn has_panic(log: &str) -> bool {
    log.contains("panicked at") || log.contains("RUST_BACKTRACE")
}

/// Reads an answer completely; `None` when the connection broke (the server was killed).
pub async fn try_read(resp: reqwest::Response) -> Option<Reply> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let url = resp.url().clone();
    let body = resp.text().await.ok()?;
    crate::audit::observe(status, &headers, &body);
    Some(Reply {
        status,
        headers,
        body,
        url,
    })
}
