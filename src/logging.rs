//! Log output on standard error: readable lines by default, one JSON object per line with
//! `TESSERA_LOG_FORMAT=json`. `RUST_LOG` chooses how much is logged.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// What is logged when `RUST_LOG` is not set.
const DEFAULT_FILTER: &str = "info,actix_server=warn";

/// actix-http reports a client's malformed request (an invalid header, a head too large) at
/// ERROR, though it answered 400 or 431 and nothing failed here. Such lines would bury real
/// errors under whatever a scanner sends, so they are dropped unless `RUST_LOG` names
/// `actix_http` itself.
const CLIENT_FAULTS: &str = "actix_http::h1::dispatcher=off";

fn filter() -> EnvFilter {
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_FILTER.to_string());
    let filter = EnvFilter::try_new(&spec).unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    match CLIENT_FAULTS.parse() {
        Ok(quiet) if !spec.contains("actix_http") => filter.add_directive(quiet),
        _ => filter,
    }
}

/// A plain subscriber for what is logged before the configuration is read.
pub fn early() -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .finish()
}

/// Installs the process-wide subscriber in the configured format.
pub fn init(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}
