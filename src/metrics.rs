//! Prometheus metrics of one server: requests by route and status, request latency, tokens
//! issued by grant, failed sign-ins, the database pool and the argon2 queue; served as text
//! on `/metrics`.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::hashing::HashingLoad;
use crate::state::AppState;

/// Latency buckets in seconds, from a cached JWKS answer to a slow password check.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// The metrics of one server (each server, and so each test server, has its own registry).
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    tokens: IntCounterVec,
    login_failures: IntCounterVec,
    pool: IntGaugeVec,
    hashing: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("tessera".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests by route, method and status",
            ),
            &["route", "method", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "Time to answer an HTTP request, by route",
            )
            .buckets(LATENCY_BUCKETS.to_vec()),
            &["route"],
        )?;
        let tokens = IntCounterVec::new(
            Opts::new(
                "tokens_issued_total",
                "Token responses issued, by grant type",
            ),
            &["grant"],
        )?;
        let login_failures = IntCounterVec::new(
            Opts::new(
                "login_failures_total",
                "Failed sign-ins: wrong credentials, or refused while throttled",
            ),
            &["reason"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "db_pool_connections",
                "Database pool connections: in use, idle, and the maximum",
            ),
            &["state"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(tokens.clone()))?;
        registry.register(Box::new(login_failures.clone()))?;
        let hashing = IntGaugeVec::new(
            Opts::new(
                "password_hashing",
                "The argon2 executor: checks waiting and running, its queue size and threads, \
                 checks refused since start because the queue was full, and working memories \
                 (12 MiB each) kept for the next checks",
            ),
            &["state"],
        )?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(hashing.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            tokens,
            login_failures,
            pool,
            hashing,
        })
    }

    /// One token response of grant type `grant` was issued.
    pub fn token_issued(&self, grant: &str) {
        self.tokens.with_label_values(&[grant]).inc();
    }

    /// A sign-in failed: `wrong_credentials` or `throttled`.
    pub fn login_failed(&self, reason: &str) {
        self.login_failures.with_label_values(&[reason]).inc();
    }

    fn observe(&self, route: &str, method: &str, status: u16, seconds: f64) {
        self.requests
            .with_label_values(&[route, method, &status.to_string()])
            .inc();
        self.latency.with_label_values(&[route]).observe(seconds);
    }

    /// The text exposition of every metric, with the pool and argon2 gauges read now.
    fn render(
        &self,
        pool: (u32, u32),
        max: u32,
        hashing: HashingLoad,
    ) -> Result<String, prometheus::Error> {
        let (connections, idle) = pool;
        let gauge = |state: &str, v: u32| self.pool.with_label_values(&[state]).set(i64::from(v));
        gauge("in_use", connections.saturating_sub(idle));
        gauge("idle", idle);
        gauge("max", max);
        let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        for (state, value) in [
            ("waiting", hashing.waiting),
            ("running", hashing.running),
            ("refused", hashing.refused),
            ("queue_size", count(hashing.queue)),
            ("threads", count(hashing.threads)),
            ("kept_memory", hashing.kept_memory),
        ] {
            self.hashing.with_label_values(&[state]).set(value);
        }
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out)?;
        String::from_utf8(out).map_err(|e| prometheus::Error::Msg(e.to_string()))
    }
}

/// Middleware: counts every request by its route pattern (never the raw path, which would
/// let anyone create series) and records how long it took.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let method = req.method().as_str().to_string();
    let res = next.call(req).await?;
    if let Some(state) = state {
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".into());
        let method = match method.as_str() {
            "GET" | "POST" | "HEAD" | "OPTIONS" | "PUT" | "DELETE" | "PATCH" => method,
            _ => "other".into(),
        };
        let seconds = started.elapsed().as_secs_f64();
        state
            .metrics
            .observe(&route, &method, res.status().as_u16(), seconds);
    }
    Ok(res)
}

/// `GET /metrics`: the Prometheus text format.
pub async fn serve(state: web::Data<AppState>) -> HttpResponse {
    match state.metrics.render(
        state.db.pool_state(),
        state.db.pool_max(),
        state.hashing.load(),
    ) {
        Ok(text) => HttpResponse::Ok()
            .content_type(prometheus::TEXT_FORMAT)
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(text),
        Err(e) => {
            tracing::error!(error = %e, "The metrics could not be encoded.");
            HttpResponse::InternalServerError()
                .content_type("text/plain")
                .body("metrics unavailable")
        }
    }
}
