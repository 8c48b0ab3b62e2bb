//! The bad-input sweep: over 10 000 malformed requests over raw TCP against the real binary
//! (random bytes, wrong methods, wrong content types, huge headers, invalid UTF-8, bad
//! percent-encoding, broken framing, garbage credentials), from a fixed seed and within a time
//! bound. No answer may be a 5xx, the log may show no panic, and `/healthz` still answers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::process::{ServerProcess, has_panic};

/// How many requests the sweep sends, and from which seed.
pub const REQUESTS: usize = 10_240;
const SEED: u64 = 0x7E55_E7A5_5EED_0008;
/// Concurrent connections.
const WORKERS: usize = 4;
/// The whole sweep must end within this.
const TIME_BOUND: Duration = Duration::from_secs(240);

const PATHS: &[&str] = &[
    "/",
    "/authorize",
    "/token",
    "/userinfo",
    "/introspect",
    "/revoke",
    "/logout",
    "/login",
    "/consent",
    "/jwks",
    "/.well-known/openid-configuration",
    "/healthz",
    "/readyz",
    "/static/tessera.css",
    "/no/such/page",
];
const FORM_PATHS: &[&str] = &[
    "/token",
    "/introspect",
    "/revoke",
    "/userinfo",
    "/login",
    "/consent",
    "/logout",
    "/authorize",
];
const METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "CONNECT", "PROPFIND",
    "get", "G\u{1}T", "POST ",
];
const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "application/json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "application/x-www-form-urlencoded; charset=\"",
    "",
    "*/*",
    ";;;",
];
const NAMES: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "grant_type",
    "code",
    "code_verifier",
    "refresh_token",
    "token",
    "token_type_hint",
    "client_secret",
    "username",
    "password",
    "csrf_token",
    "return_to",
    "decision",
    "id_token_hint",
    "post_logout_redirect_uri",
    "prompt",
    "max_age",
    "access_token",
    "request",
    "request_uri",
    "response_mode",
    "confirm",
];
const VALUES: &[&str] = &[
    "code",
    "S256",
    "plain",
    "openid",
    "openid profile email offline_access",
    "webapp",
    "portal",
    "spa",
    "https://portal.example/cb",
    "https://evil.example/cb",
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "password",
    "none",
    "login consent",
    "-1",
    "99999999999999999999",
    "allow",
    "yes",
    "/authorize?client_id=portal",
    "//evil.example",
    "%zz",
    "%",
    "%e9",
    "%c3%28",
    "%00",
    "%ff%fe",
    "+",
    "&&&",
    "==",
    "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
];

/// SplitMix64: a small deterministic generator, enough to pick malformed inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// A value: a known word, random bytes (raw or percent-encoded), or a long run.
    fn value(&mut self) -> Vec<u8> {
        match self.below(6) {
            0 | 1 => self.pick(VALUES).as_bytes().to_vec(),
            2 => {
                let n = self.below(64);
                self.bytes(n)
            }
            3 => {
                let n = self.below(48);
                let raw = self.bytes(n);
                url::form_urlencoded::byte_serialize(&raw)
                    .collect::<String>()
                    .into_bytes()
            }
            4 => vec![b'x'; 4000 + self.below(300)],
            _ => Vec::new(),
        }
    }
    /// A form or query string of random pairs, sometimes repeating a name.
    fn form(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        for i in 0..self.below(10) {
            if i > 0 {
                out.push(b'&');
            }
            if self.below(8) == 0 {
                let n = self.below(16);
                out.extend(self.bytes(n));
            } else {
                out.extend(self.pick(NAMES).as_bytes());
            }
            if self.below(10) != 0 {
                out.push(b'=');
                out.extend(self.value());
            }
        }
        out
    }
}

/// The bytes of malformed request number `i`.
fn request(i: usize) -> Vec<u8> {
    let mut r = Rng(SEED ^ (i as u64).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut out = Vec::new();
    let line = |out: &mut Vec<u8>, method: &str, path: &[u8]| {
        out.extend(method.as_bytes());
        out.push(b' ');
        out.extend(path);
        out.extend(b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    };
    match i % 8 {
        // Random bytes, sometimes after a plausible request line.
        0 => {
            if r.below(2) == 0 {
                out.extend(b"POST /token HTTP/1.1\r\n");
            }
            let n = r.below(2048);
            out.extend(r.bytes(n));
        }
        // Any method on any path, with a random query.
        1 => {
            let mut path = r.pick(PATHS).as_bytes().to_vec();
            path.push(b'?');
            path.extend(r.form().into_iter().filter(|b| !b" \r\n".contains(b)));
            line(&mut out, r.pick(METHODS), &path);
            out.extend(b"\r\n");
        }
        // A POST with a wrong or odd content type and a random body.
        2 => {
            let body = r.form();
            line(&mut out, "POST", r.pick(FORM_PATHS).as_bytes());
            let ct = r.pick(CONTENT_TYPES);
            if !ct.is_empty() {
                out.extend(format!("Content-Type: {ct}\r\n").as_bytes());
            }
            out.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend(body);
        }
        // Huge headers: one enormous value, or very many headers.
        3 => {
            line(&mut out, r.pick(&["GET", "POST"]), r.pick(PATHS).as_bytes());
            if r.below(2) == 0 {
                let n = 8_000 + r.below(80_000);
                out.extend(b"X-Huge: ");
                out.extend(std::iter::repeat_n(b'a', n));
                out.extend(b"\r\n");
            } else {
                for h in 0..(50 + r.below(200)) {
                    out.extend(format!("X-Many-{h}: {}\r\n", r.next()).as_bytes());
                }
            }
            out.extend(b"\r\n");
        }
        // Invalid UTF-8 in the path, query, headers and body.
        4 => {
            let mut path = r.pick(PATHS).as_bytes().to_vec();
            path.extend(b"?client_id=\xff\xfe&scope=open\xc3\x28id&state=");
            let n = r.below(32);
            path.extend(r.bytes(n).into_iter().filter(|b| !b" \r\n".contains(b)));
            line(&mut out, r.pick(&["GET", "POST"]), &path);
            out.extend(
                b"Authorization: Basic \xff\xfe\xfd\r\nCookie: tessera_session=\xc3\x28\r\n",
            );
            let body = b"grant_type=authorization_code&code=\xff\xfe&client_id=\xe2\x82";
            out.extend(b"Content-Type: application/x-www-form-urlencoded\r\n");
            out.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend(body);
        }
        // Bad percent-encoding in the query and the body.
        5 => {
            let bad = [
                "%",
                "%z",
                "%zz",
                "%1",
                "%%",
                "%e9%",
                "%c3%28",
                "%ed%a0%80",
                "%00%00",
            ];
            let mut query = Vec::new();
            for _ in 0..(1 + r.below(6)) {
                query.extend(format!("{}={}&", r.pick(NAMES), r.pick(&bad)).as_bytes());
            }
            let mut path = r.pick(PATHS).as_bytes().to_vec();
            path.push(b'?');
            path.extend(&query);
            line(&mut out, "POST", &path);
            out.extend(b"Content-Type: application/x-www-form-urlencoded\r\n");
            out.extend(format!("Content-Length: {}\r\n\r\n", query.len()).as_bytes());
            out.extend(query);
        }
        // Broken framing: lengths that lie, bad chunks, both, or absurd values.
        6 => {
            line(&mut out, "POST", r.pick(FORM_PATHS).as_bytes());
            out.extend(b"Content-Type: application/x-www-form-urlencoded\r\n");
            let body = r.form();
            match r.below(6) {
                0 => out.extend(format!("Content-Length: {}\r\n\r\n", body.len() + 50).as_bytes()),
                1 => out.extend(b"Content-Length: -5\r\n\r\n"),
                2 => out.extend(b"Content-Length: 99999999999999999999\r\n\r\n"),
                3 => out.extend(b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"),
                4 => out.extend(
                    format!(
                        "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .as_bytes(),
                ),
                _ => out.extend(b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            }
            out.extend(body);
        }
        // Garbage credentials and cookies on the endpoints that read them.
        _ => {
            let path = r.pick(&[
                "/token",
                "/userinfo",
                "/introspect",
                "/revoke",
                "/authorize",
                "/login",
                "/logout",
                "/consent",
                "/",
            ]);
            line(&mut out, r.pick(&["GET", "POST"]), path.as_bytes());
            let n = r.below(200);
            let noise = r.bytes(n);
            let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &noise);
            let header = match r.below(6) {
                0 => format!("Authorization: Basic {b64}"),
                1 => format!("Authorization: Bearer {b64}.{b64}.{b64}"),
                2 => format!("Authorization: {}", r.pick(VALUES)),
                3 => format!("Cookie: tessera_session={b64}; tessera_session=x"),
                4 => "Authorization: Basic Og==".to_string(),
                _ => format!("Cookie: {}", "a=b; ".repeat(r.below(500))),
            };
            out.extend(header.as_bytes());
            out.extend(b"\r\n");
            let body = r.form();
            out.extend(b"Content-Type: application/x-www-form-urlencoded\r\n");
            out.extend(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend(body);
        }
    }
    out
}

/// Sends one request and answers the status code, if the server answered with one.
pub async fn send(addr: &str, bytes: &[u8]) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let _ = stream.write_all(bytes).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let head = answer.get(..12)?;
    let text = std::str::from_utf8(head).ok()?;
    text.strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))?
        .get(..3)?
        .parse()
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_requests_get_no_5xx_and_no_panic() {
    if crate::backend::on_postgres() {
        println!("skipped on the PostgreSQL pass: the child server runs on its own SQLite file");
        return;
    }
    let _heavy = super::HEAVY.lock().await;
    let server = ServerProcess::start("sweep").await;
    let addr = server.base.trim_start_matches("http://").to_string();
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();

    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let (addr, next) = (addr.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut statuses: BTreeMap<Option<u16>, usize> = BTreeMap::new();
            let mut server_errors = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= REQUESTS || started.elapsed() > TIME_BOUND {
                    break;
                }
                let status = send(&addr, &request(i)).await;
                if status.is_some_and(|s| s >= 500) {
                    server_errors.push(i);
                }
                *statuses.entry(status).or_default() += 1;
            }
            (statuses, server_errors)
        }));
    }
    let mut statuses: BTreeMap<Option<u16>, usize> = BTreeMap::new();
    let mut server_errors = Vec::new();
    for w in workers {
        let (s, e) = w.await.expect("worker");
        for (k, v) in s {
            *statuses.entry(k).or_default() += v;
        }
        server_errors.extend(e);
    }
    let sent: usize = statuses.values().sum();
    println!(
        "sweep: {sent} malformed requests in {:.1} s; answers by status: {statuses:?}",
        started.elapsed().as_secs_f64()
    );

    assert_eq!(server.health().await, 200, "/healthz after the sweep");
    assert!(server.is_running(), "the server is still running");
    assert!(sent >= REQUESTS, "only {sent} sent within {TIME_BOUND:?}");
    server_errors.sort_unstable();
    assert!(
        server_errors.is_empty(),
        "5xx answers to requests {:?}; the first was:\n{}",
        &server_errors[..server_errors.len().min(20)],
        String::from_utf8_lossy(&request(server_errors[0]))
            .chars()
            .take(600)
            .collect::<String>()
    );
    let answered: usize = statuses
        .iter()
        .filter(|(k, _)| k.is_some())
        .map(|(_, v)| v)
        .sum();
    assert!(answered * 2 > sent, "most requests got an HTTP answer");
    let log = server.log();
    assert!(!has_panic(&log), "panic in the server log:\n{log}");
}
