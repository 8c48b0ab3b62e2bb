//! Settings, layered defaults → optional TOML file → `TESSERA_*` environment variables, and
//! validated once at start-up. A bad value names its variable and what it expects.

mod parse;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::db::DatabaseUrl;
use parse::{
    audit_webhook, parse_busy_timeout, parse_count, parse_duration, parse_issuer, read_toml,
};

/// A secret that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Exactly as in tokens and discovery.
    pub issuer: String,
    pub bind: SocketAddr,
    pub database: DatabaseUrl,
    pub keys_dir: PathBuf,
    pub admin_password: Option<Secret>,
    pub access_token_ttl: Duration,
    pub id_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub session_ttl: Duration,
    /// `text` (default) or `json` log lines.
    pub log_format: LogFormat,
    /// How often the background task deletes expired rows.
    pub cleanup_interval: Duration,
    /// When set, signing keys live in the database, encrypted under this AES-256 key;
    /// otherwise they are PEM files in `keys_dir`.
    pub key_encryption_key: Option<KeyEncryptionKey>,
    /// How often a running server reloads the signing keys from the database.
    pub key_reload_interval: Duration,
    /// How long a new key is published in the JWKS before it signs.
    pub key_prepublish: Duration,
    /// Whether every person must use a second factor (`TESSERA_MFA`).
    pub mfa: MfaPolicy,
    /// Whether people may create their own account at `/register` (`TESSERA_REGISTRATION`).
    pub registration: Registration,
    /// How long a query waits for another connection's write lock before the request is
    /// answered 503 (SQLite `busy_timeout`).
    pub database_busy_timeout: Duration,
    /// Where audit events are delivered, if anywhere.
    pub audit_webhook: Option<AuditWebhook>,
    /// How many argon2 hashes run at once (`TESSERA_PASSWORD_HASHING_THREADS`).
    pub password_hashing_threads: usize,
    /// How many password checks may wait for a hashing thread before sign-ins are answered
    /// 503 (`TESSERA_PASSWORD_HASHING_QUEUE`).
    pub password_hashing_queue: usize,
}

/// Delivery of audit events to a webhook (`TESSERA_AUDIT_WEBHOOK_*`).
#[derive(Debug, Clone)]
pub struct AuditWebhook {
    pub url: url::Url,
    /// The HMAC-SHA256 key of the signature header.
    pub secret: Secret,
    /// The wait before the first retry; it doubles for each further one.
    pub first_retry: Duration,
}

/// `TESSERA_MFA`: `optional` (people choose, or an admin requires it per user) or `required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaPolicy {
    Optional,
    Required,
}

/// `TESSERA_REGISTRATION`: `open` or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    Open,
    Off,
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The 256-bit key that encrypts signing keys at rest; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyEncryptionKey([u8; 32]);

impl KeyEncryptionKey {
    /// 32 bytes in standard or URL-safe base64 (padded or not), e.g. from `openssl rand -base64 32`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let raw = raw.trim();
        let bytes = STANDARD
            .decode(raw)
            .or_else(|_| URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
            .map_err(|_| "expects 32 bytes in base64, e.g. from `openssl rand -base64 32`")?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "expects 32 bytes in base64 (got {}), e.g. from `openssl rand -base64 32`",
                b.len()
            )
        })?;
        Ok(Self(key))
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

/// How long the JWKS may be cached (its `Cache-Control: max-age`).
pub const JWKS_MAX_AGE: Duration = Duration::from_secs(300);

/// The argon2 executor's size: threads (default: the available parallelism) and queue
/// (default: 32 per thread).
fn hashing(get: &dyn Fn(&str) -> Option<String>) -> Result<(usize, usize), ConfigError> {
    const THREADS: &str = "TESSERA_PASSWORD_HASHING_THREADS";
    const QUEUE: &str = "TESSERA_PASSWORD_HASHING_QUEUE";
    let threads = match get(THREADS) {
        Some(raw) => parse_count(&raw, 1, MAX_HASHING_THREADS).map_err(|m| err(THREADS, m))?,
        None => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .min(MAX_HASHING_THREADS),
    };
    let queue = match get(QUEUE) {
        Some(raw) => parse_count(&raw, 0, MAX_HASHING_QUEUE).map_err(|m| err(QUEUE, m))?,
        None => threads * HASHING_QUEUE_PER_THREAD,
    };
    Ok((threads, queue))
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

fn err(variable: &str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable: variable.to_string(),
        message: message.into(),
    }
}

/// (environment variable, TOML key, default)
const SETTINGS: &[(&str, &str, Option<&str>)] = &[
    ("TESSERA_ISSUER", "issuer", Some("http://127.0.0.1:8080")),
    ("TESSERA_BIND", "bind", Some("127.0.0.1:8080")),
    (
        "TESSERA_DATABASE_URL",
        "database_url",
        Some("data/tessera.db"),
    ),
    ("TESSERA_KEYS_DIR", "keys_dir", Some("keys")),
    ("TESSERA_ADMIN_PASSWORD", "admin_password", None),
    ("TESSERA_ACCESS_TOKEN_TTL", "access_token_ttl", Some("15m")),
    ("TESSERA_ID_TOKEN_TTL", "id_token_ttl", Some("1h")),
    (
        "TESSERA_REFRESH_TOKEN_TTL",
        "refresh_token_ttl",
        Some("30d"),
    ),
    ("TESSERA_SESSION_TTL", "session_ttl", Some("12h")),
    ("TESSERA_AUDIT_WEBHOOK_URL", "audit_webhook_url", None),
    ("TESSERA_AUDIT_WEBHOOK_SECRET", "audit_webhook_secret", None),
    (
        "TESSERA_AUDIT_WEBHOOK_RETRY",
        "audit_webhook_retry",
        Some("1s"),
    ),
    ("TESSERA_LOG_FORMAT", "log_format", Some("text")),
    ("TESSERA_CLEANUP_INTERVAL", "cleanup_interval", Some("10m")),
    ("TESSERA_KEY_ENCRYPTION_KEY", "key_encryption_key", None),
    (
        "TESSERA_KEY_RELOAD_INTERVAL",
        "key_reload_interval",
        Some("5s"),
    ),
    ("TESSERA_KEY_PREPUBLISH", "key_prepublish", None),
    ("TESSERA_MFA", "mfa", Some("optional")),
    ("TESSERA_REGISTRATION", "registration", Some("off")),
    (
        "TESSERA_DATABASE_BUSY_TIMEOUT",
        "database_busy_timeout",
        Some("5s"),
    ),
    (
        "TESSERA_PASSWORD_HASHING_THREADS",
        "password_hashing_threads",
        None,
    ),
    (
        "TESSERA_PASSWORD_HASHING_QUEUE",
        "password_hashing_queue",
        None,
    ),
];

/// Most argon2 threads (each hash holds 12 MiB while it runs).
const MAX_HASHING_THREADS: usize = 256;
/// Most password checks waiting for a thread.
const MAX_HASHING_QUEUE: usize = 100_000;
/// Waiting checks per hashing thread unless configured: about half a second of work at 16 ms
/// per hash.
const HASHING_QUEUE_PER_THREAD: usize = 32;

impl Config {
    /// Reads the process environment and, when given, the TOML file.
    pub fn load(toml_path: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars()
            .filter(|(k, _)| k.starts_with("TESSERA_"))
            .collect();
        for name in env.keys() {
            if !SETTINGS.iter().any(|(var, _, _)| var == name) {
                tracing::warn!(variable = %name, "Ignoring an unknown TESSERA_ environment variable.");
            }
        }
        let file = match toml_path {
            Some(path) => Some(read_toml(path)?),
            None => None,
        };
        Self::from_sources(&env, file.as_ref())
    }

    /// Builds the configuration from explicit sources (the environment wins over the file).
    pub fn from_sources(
        env: &HashMap<String, String>,
        file: Option<&HashMap<String, String>>,
    ) -> Result<Self, ConfigError> {
        let get = |var: &str| -> Option<String> {
            let (_, key, default) = SETTINGS.iter().find(|(v, _, _)| *v == var)?;
            env.get(var)
                .cloned()
                .or_else(|| file.and_then(|f| f.get(*key).cloned()))
                .or_else(|| default.map(str::to_string))
        };
        let value = |var: &str| get(var).unwrap_or_default();

        let issuer =
            parse_issuer(&value("TESSERA_ISSUER")).map_err(|m| err("TESSERA_ISSUER", m))?;
        let bind = value("TESSERA_BIND").parse::<SocketAddr>().map_err(|_| {
            err(
                "TESSERA_BIND",
                "expects an IP address and port, e.g. 127.0.0.1:8080",
            )
        })?;
        let database = DatabaseUrl::parse(&value("TESSERA_DATABASE_URL"))
            .map_err(|m| err("TESSERA_DATABASE_URL", m))?;
        let keys_dir = PathBuf::from(value("TESSERA_KEYS_DIR"));
        if keys_dir.as_os_str().is_empty() {
            return Err(err("TESSERA_KEYS_DIR", "expects a folder path"));
        }
        let admin_password = match get("TESSERA_ADMIN_PASSWORD") {
            Some(p) if p.chars().count() < 12 => {
                return Err(err(
                    "TESSERA_ADMIN_PASSWORD",
                    "expects at least 12 characters",
                ));
            }
            Some(p) => Some(Secret::new(p)),
            None => None,
        };
        let ttl = |var: &str, max: Duration| -> Result<Duration, ConfigError> {
            let d = parse_duration(&value(var)).map_err(|m| err(var, m))?;
            if d > max {
                return Err(err(
                    var,
                    format!("expects at most {}", humantime::format_duration(max)),
                ));
            }
            Ok(d)
        };
        let mfa = match value("TESSERA_MFA").as_str() {
            "optional" => MfaPolicy::Optional,
            "required" => MfaPolicy::Required,
            _ => return Err(err("TESSERA_MFA", "expects `optional` or `required`")),
        };
        let registration = match value("TESSERA_REGISTRATION").as_str() {
            "open" => Registration::Open,
            "off" => Registration::Off,
            _ => return Err(err("TESSERA_REGISTRATION", "expects `open` or `off`")),
        };
        const DAY: u64 = 86_400;
        let audit_webhook = audit_webhook(&get)?;
        let log_format = match value("TESSERA_LOG_FORMAT").trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            _ => return Err(err("TESSERA_LOG_FORMAT", "expects `text` or `json`")),
        };
        let key_encryption_key = match get("TESSERA_KEY_ENCRYPTION_KEY") {
            Some(raw) => Some(
                KeyEncryptionKey::parse(&raw).map_err(|m| err("TESSERA_KEY_ENCRYPTION_KEY", m))?,
            ),
            None => None,
        };
        let key_reload_interval = ttl("TESSERA_KEY_RELOAD_INTERVAL", Duration::from_secs(30))?;
        // Long enough for every instance to publish the key (one reload) and for every cached
        // JWKS to expire, unless set.
        let key_prepublish = match get("TESSERA_KEY_PREPUBLISH") {
            Some(raw) if raw.trim() == "0" => Duration::ZERO,
            Some(_) => ttl("TESSERA_KEY_PREPUBLISH", Duration::from_secs(7 * DAY))?,
            None => JWKS_MAX_AGE + key_reload_interval,
        };
        let (password_hashing_threads, password_hashing_queue) = hashing(&get)?;
        Ok(Self {
            password_hashing_threads,
            password_hashing_queue,
            log_format,
            cleanup_interval: ttl("TESSERA_CLEANUP_INTERVAL", Duration::from_secs(DAY))?,
            key_encryption_key,
            key_reload_interval,
            key_prepublish,
            mfa,
            registration,
            issuer,
            bind,
            database,
            keys_dir,
            admin_password,
            access_token_ttl: ttl("TESSERA_ACCESS_TOKEN_TTL", Duration::from_secs(DAY))?,
            id_token_ttl: ttl("TESSERA_ID_TOKEN_TTL", Duration::from_secs(DAY))?,
            refresh_token_ttl: ttl("TESSERA_REFRESH_TOKEN_TTL", Duration::from_secs(365 * DAY))?,
            session_ttl: ttl("TESSERA_SESSION_TTL", Duration::from_secs(90 * DAY))?,
            audit_webhook,
            database_busy_timeout: parse_busy_timeout(&value("TESSERA_DATABASE_BUSY_TIMEOUT"))
                .map_err(|m| err("TESSERA_DATABASE_BUSY_TIMEOUT", m))?,
        })
    }

    /// An absolute URL for one of our paths.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }

    /// Whether cookies get `Secure` and pages get HSTS.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }

    /// How long a retired key must stay published: the longest token lifetime it may have signed.
    pub fn key_publish_window(&self) -> i64 {
        self.access_token_ttl.max(self.id_token_ttl).as_secs() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_match_the_design() {
        let c = Config::from_sources(&HashMap::new(), None).expect("defaults");
        assert_eq!(c.issuer, "http://127.0.0.1:8080");
        assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database, DatabaseUrl::Sqlite("data/tessera.db".into()));
        assert_eq!(c.access_token_ttl, Duration::from_secs(900));
        assert_eq!(c.id_token_ttl, Duration::from_secs(3600));
        assert_eq!(c.refresh_token_ttl, Duration::from_secs(30 * 86_400));
        assert_eq!(c.session_ttl, Duration::from_secs(12 * 3600));
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.key_encryption_key, None);
        assert_eq!(c.key_reload_interval, Duration::from_secs(5));
        assert_eq!(c.key_prepublish, Duration::from_secs(305));
        assert_eq!(c.mfa, MfaPolicy::Optional);
        assert_eq!(c.registration, Registration::Off);
        assert_eq!(c.database_busy_timeout, Duration::from_secs(5));
        assert!(c.password_hashing_threads >= 1);
        assert_eq!(c.password_hashing_queue, 32 * c.password_hashing_threads);
    }

    #[test]
    fn password_hashing_executor_size() {
        let c = Config::from_sources(
            &env(&[
                ("TESSERA_PASSWORD_HASHING_THREADS", "3"),
                ("TESSERA_PASSWORD_HASHING_QUEUE", "0"),
            ]),
            None,
        )
        .expect("config");
        assert_eq!(
            (c.password_hashing_threads, c.password_hashing_queue),
            (3, 0)
        );
        let c = Config::from_sources(&env(&[("TESSERA_PASSWORD_HASHING_THREADS", "2")]), None)
            .expect("config");
        assert_eq!(c.password_hashing_queue, 64);
    }

    #[test]
    fn mfa_and_registration_settings() {
        let file = env(&[("registration", "open")]);
        let c = Config::from_sources(&env(&[("TESSERA_MFA", "required")]), Some(&file))
            .expect("config");
        assert_eq!(c.mfa, MfaPolicy::Required);
        assert_eq!(c.registration, Registration::Open);
    }

    #[test]
    fn busy_timeout_takes_milliseconds() {
        let c = Config::from_sources(&env(&[("TESSERA_DATABASE_BUSY_TIMEOUT", "250ms")]), None)
            .expect("config");
        assert_eq!(c.database_busy_timeout, Duration::from_millis(250));
        let c = Config::from_sources(&env(&[("TESSERA_DATABASE_BUSY_TIMEOUT", "1500")]), None)
            .expect("config");
        assert_eq!(c.database_busy_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn env_wins_over_file() {
        let file = env(&[("issuer", "https://file.example"), ("bind", "0.0.0.0:9000")]);
        let c = Config::from_sources(
            &env(&[("TESSERA_ISSUER", "https://env.example")]),
            Some(&file),
        )
        .expect("config");
        assert_eq!(c.issuer, "https://env.example");
        assert_eq!(c.bind.port(), 9000);
        assert!(c.is_https());
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("TESSERA_ISSUER", "not a url"),
            ("TESSERA_ISSUER", "https://x.example/?q=1"),
            ("TESSERA_BIND", "localhost"),
            ("TESSERA_ACCESS_TOKEN_TTL", "soon"),
            ("TESSERA_SESSION_TTL", "0"),
            ("TESSERA_ADMIN_PASSWORD", "short"),
            ("TESSERA_DATABASE_URL", "postgres://x"),
            ("TESSERA_LOG_FORMAT", "yaml"),
            ("TESSERA_KEY_ENCRYPTION_KEY", "c2hvcnQ="),
            ("TESSERA_KEY_ENCRYPTION_KEY", "not base64!"),
            ("TESSERA_KEY_RELOAD_INTERVAL", "1m"),
            ("TESSERA_CLEANUP_INTERVAL", "never"),
            ("TESSERA_MFA", "always"),
            ("TESSERA_REGISTRATION", "yes"),
            ("TESSERA_DATABASE_BUSY_TIMEOUT", "0"),
            ("TESSERA_DATABASE_BUSY_TIMEOUT", "2m"),
            ("TESSERA_DATABASE_BUSY_TIMEOUT", "later"),
            ("TESSERA_PASSWORD_HASHING_THREADS", "0"),
            ("TESSERA_PASSWORD_HASHING_THREADS", "many"),
            ("TESSERA_PASSWORD_HASHING_QUEUE", "-1"),
            ("TESSERA_PASSWORD_HASHING_QUEUE", "1000001"),
        ] {
            let e = Config::from_sources(&env(&[(var, value)]), None).expect_err(value);
            assert_eq!(e.variable, var);
            assert!(e.to_string().starts_with(var));
        }
    }

    #[test]
    fn audit_webhook_needs_a_url_and_a_long_secret_together() {
        let url = ("TESSERA_AUDIT_WEBHOOK_URL", "https://hooks.example/tessera");
        let secret = (
            "TESSERA_AUDIT_WEBHOOK_SECRET",
            "0123456789abcdef0123456789abcdef",
        );
        let c = Config::from_sources(&env(&[url, secret]), None).expect("config");
        let hook = c.audit_webhook.expect("a webhook");
        assert_eq!(hook.url.as_str(), "https://hooks.example/tessera");
        assert_eq!(hook.first_retry, Duration::from_secs(1));
        assert!(
            !format!("{hook:?}").contains(secret.1),
            "the secret does not print"
        );
        assert!(
            Config::from_sources(&HashMap::new(), None)
                .expect("config")
                .audit_webhook
                .is_none()
        );
        for (pairs, variable) in [
            (vec![url], "TESSERA_AUDIT_WEBHOOK_SECRET"),
            (vec![secret], "TESSERA_AUDIT_WEBHOOK_URL"),
            (
                vec![url, ("TESSERA_AUDIT_WEBHOOK_SECRET", "short")],
                "TESSERA_AUDIT_WEBHOOK_SECRET",
            ),
            (
                vec![("TESSERA_AUDIT_WEBHOOK_URL", "ftp://x.example/"), secret],
                "TESSERA_AUDIT_WEBHOOK_URL",
            ),
            (
                vec![url, secret, ("TESSERA_AUDIT_WEBHOOK_RETRY", "soon")],
                "TESSERA_AUDIT_WEBHOOK_RETRY",
            ),
        ] {
            let e = Config::from_sources(&env(&pairs), None).expect_err(variable);
            assert_eq!(e.variable, variable);
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Config::from_sources(
            &env(&[("TESSERA_ADMIN_PASSWORD", "a-very-long-password")]),
            None,
        )
        .expect("config");
        assert!(!format!("{c:?}").contains("a-very-long-password"));
        let pg = Config::from_sources(
            &env(&[("TESSERA_DATABASE_URL", "postgres://u:pg-secret@db/t")]),
            None,
        )
        .expect("config");
        assert!(!format!("{pg:?}").contains("pg-secret"));
        let kek = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU=";
        let with_kek = Config::from_sources(&env(&[("TESSERA_KEY_ENCRYPTION_KEY", kek)]), None)
            .expect("config");
        assert_eq!(
            with_kek.key_encryption_key.as_ref().map(|k| k.bytes()[0]),
            Some(b'A')
        );
        assert!(!format!("{with_kek:?}").contains(kek));
        assert!(!format!("{with_kek:?}").contains("ABCDEF"));
    }
}
