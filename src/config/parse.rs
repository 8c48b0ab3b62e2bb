//! Parsing helpers of the settings: the TOML file, durations, the issuer, the audit webhook
//! and counts. Each answers a message saying what the setting expects.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use super::{AuditWebhook, ConfigError, SETTINGS, Secret, err};

pub(super) fn read_toml(path: &Path) -> Result<HashMap<String, String>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| err("--config", format!("cannot read {}: {e}", path.display())))?;
    let table: toml::Table = text.parse().map_err(|e| {
        err(
            "--config",
            format!("{} is not valid TOML: {e}", path.display()),
        )
    })?;
    let mut out = HashMap::new();
    for (key, value) in table {
        if !SETTINGS.iter().any(|(_, k, _)| *k == key) {
            return Err(err(
                "--config",
                format!("unknown key `{key}` in {}", path.display()),
            ));
        }
        let text = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            _ => {
                return Err(err(
                    "--config",
                    format!("`{key}` expects a string or a number"),
                ));
            }
        };
        out.insert(key, text);
    }
    Ok(out)
}

/// The audit webhook settings: a URL and a secret of at least 32 characters, or neither.
pub(super) fn audit_webhook(
    get: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<AuditWebhook>, ConfigError> {
    const URL: &str = "TESSERA_AUDIT_WEBHOOK_URL";
    const SECRET: &str = "TESSERA_AUDIT_WEBHOOK_SECRET";
    const RETRY: &str = "TESSERA_AUDIT_WEBHOOK_RETRY";
    let (url, secret) = match (get(URL), get(SECRET)) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(err(SECRET, "is required with TESSERA_AUDIT_WEBHOOK_URL")),
        (None, Some(_)) => return Err(err(URL, "is required with TESSERA_AUDIT_WEBHOOK_SECRET")),
        (Some(u), Some(s)) => (u, s),
    };
    let url = url::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
        .ok_or_else(|| err(URL, "expects an absolute http(s) URL"))?;
    if secret.chars().count() < 32 {
        return Err(err(SECRET, "expects at least 32 characters"));
    }
    let raw = get(RETRY).unwrap_or_default();
    let first_retry = humantime::parse_duration(raw.trim())
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs() <= 3600)
        .ok_or_else(|| err(RETRY, "expects a duration from 1ms to 1h, e.g. 1s or 500ms"))?;
    Ok(Some(AuditWebhook {
        url,
        secret: Secret::new(secret),
        first_retry,
    }))
}

pub(super) fn parse_issuer(raw: &str) -> Result<String, String> {
    let expects =
        "expects an absolute http(s) URL without query or fragment, e.g. https://id.example.com";
    let url = url::Url::parse(raw).map_err(|_| expects.to_string())?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
    {
        return Err(expects.into());
    }
    Ok(raw.to_string())
}

/// `15m`, `1h`, `30d`, `90s` or a plain number of seconds; never zero.
pub(super) fn parse_duration(raw: &str) -> Result<Duration, String> {
    let expects = "expects a duration such as 90s, 15m, 1h or 30d";
    let raw = raw.trim();
    let d = match raw.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(raw).map_err(|_| expects.to_string())?,
    };
    if d.as_secs() == 0 {
        return Err(format!("{expects} (at least one second)"));
    }
    Ok(d)
}

/// `250ms`, `5s` or a plain number of milliseconds; from 1 ms to 60 s.
pub(super) fn parse_busy_timeout(raw: &str) -> Result<Duration, String> {
    let expects = "expects a duration from 1ms to 60s, such as 250ms or 5s";
    let raw = raw.trim();
    let d = match raw.parse::<u64>() {
        Ok(ms) => Duration::from_millis(ms),
        Err(_) => humantime::parse_duration(raw).map_err(|_| expects.to_string())?,
    };
    if d < Duration::from_millis(1) || d > Duration::from_secs(60) {
        return Err(expects.into());
    }
    Ok(d)
}

/// A whole number from `min` to `max`.
pub(super) fn parse_count(raw: &str, min: usize, max: usize) -> Result<usize, String> {
    raw.trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("expects a whole number from {min} to {max}"))
}
