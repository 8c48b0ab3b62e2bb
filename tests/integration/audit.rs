//! The secrets audit trail of a test run: when `TESSERA_TEST_AUDIT_DIR` is set, every server
//! log line, every error body and every secret the tests used (passwords, client secrets,
//! codes, tokens, session cookies) is written to that folder, one file of each per process.
//! `security::secrets` then scans the logs and bodies for the secrets: none may appear.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

/// The environment variable naming the audit folder.
pub const AUDIT_DIR: &str = "TESSERA_TEST_AUDIT_DIR";
/// Secrets shorter than this are not distinctive enough to search for.
pub const MIN_SECRET_LEN: usize = 8;

struct Trail {
    dir: PathBuf,
    secrets: Mutex<File>,
    bodies: Mutex<File>,
}

fn trail() -> Option<&'static Trail> {
    static TRAIL: OnceLock<Option<Trail>> = OnceLock::new();
    TRAIL
        .get_or_init(|| {
            let dir = PathBuf::from(std::env::var_os(AUDIT_DIR)?);
            std::fs::create_dir_all(&dir).expect("create the audit folder");
            let open = |kind: &str| {
                let path = dir.join(format!("{kind}-{}.txt", std::process::id()));
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
            };
            Some(Trail {
                secrets: Mutex::new(open("secrets")),
                bodies: Mutex::new(open("bodies")),
                dir,
            })
        })
        .as_ref()
}

/// The audit folder, when this run keeps one.
pub fn dir() -> Option<PathBuf> {
    trail().map(|t| t.dir.clone())
}

/// A file in the audit folder for one server's log, e.g. a spawned binary's standard error.
pub fn server_log_path(name: &str) -> Option<PathBuf> {
    dir().map(|d| d.join(format!("server-{}-{name}.log", std::process::id())))
}

/// Writes the in-process servers' logs (all of Tessera's events, at debug level) to the audit
/// folder. Answers false when no audit folder is set.
pub fn init_log() -> bool {
    let Some(t) = trail() else {
        return false;
    };
    let path = t
        .dir
        .join(format!("server-{}-inprocess.log", std::process::id()));
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "warn,tessera=trace,actix_web=debug,actix_http=debug",
        ))
        .with_ansi(false)
        .with_writer(Mutex::new(file))
        .init();
    true
}

/// Records a secret value the tests used or were given.
pub fn secret(value: &str) {
    let Some(t) = trail() else {
        return;
    };
    if value.len() < MIN_SECRET_LEN || value.contains('\n') {
        return;
    }
    let mut f = t.secrets.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(f, "{value}");
}

/// Keeps what a spawned `tessera` command wrote to standard error (its log lines and error
/// messages) for the scan, and records the secrets it was given on standard input and printed
/// on standard output, where a generated secret is meant to go (once, to the operator).
pub fn command(out: &std::process::Output, stdin: Option<&str>) {
    if trail().is_none() {
        return;
    }
    if let Some(input) = stdin {
        input.lines().for_each(secret);
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&out.stdout) {
        for name in ["client_secret", "password", "access_token", "refresh_token"] {
            if let Some(v) = map.get(name).and_then(Value::as_str) {
                secret(v);
            }
        }
    }
    command_log(&String::from_utf8_lossy(&out.stderr));
}

/// Keeps a spawned `tessera` process's log (its standard error) for the scan.
pub fn command_log(stderr: &str) {
    let Some(t) = trail() else {
        return;
    };
    let path = t
        .dir
        .join(format!("server-{}-commands.log", std::process::id()));
    if let Ok(mut f) = OpenOptions::new().create(true).append(true).open(&path) {
        let _ = writeln!(f, "{stderr}");
    }
}

/// Records the body of an error answer (status 400 and above).
pub fn error_body(status: u16, body: &str) {
    let Some(t) = trail() else {
        return;
    };
    if status < 400 {
        return;
    }
    let mut f = t.bodies.lock().unwrap_or_else(|e| e.into_inner());
    let _ = writeln!(f, "--- {status}\n{body}");
}

/// Harvests the secrets an answer handed out: tokens and codes in JSON, the code in a
/// redirect, the session cookie; and keeps the body of an error answer.
pub fn observe(status: u16, headers: &reqwest::header::HeaderMap, body: &str) {
    if trail().is_none() {
        return;
    }
    error_body(status, body);
    if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(body) {
        for name in [
            "access_token",
            "refresh_token",
            "id_token",
            "client_secret",
            "code",
        ] {
            if let Some(v) = map.get(name).and_then(Value::as_str) {
                secret(v);
            }
        }
    }
    if let Some(location) = headers.get("location").and_then(|v| v.to_str().ok())
        && let Ok(url) = url::Url::parse("http://x.invalid/").and_then(|b| b.join(location))
    {
        for (k, v) in url.query_pairs() {
            if k == "code" {
                secret(&v);
            }
        }
    }
    for cookie in headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        if let Some(value) = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .map(|(_, v)| v)
        {
            secret(value);
        }
    }
}
