//! The discovery document and the JWKS, serialised once per signing-key set and served as
//! shared bytes with a strong `ETag` (a matching `If-None-Match` gets 304): these are the
//! hottest GETs, and each costs a pointer comparison instead of building JSON.
//!
//! The bodies are rebuilt whenever the key set in force changes (a rotation picked up by the
//! key reloader), so nothing published here outlives the keys it describes.

use std::sync::{Arc, RwLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};

use crate::crypto::keys::KeySet;
use crate::crypto::random;
use crate::state::AppState;

/// How long clients may cache both documents.
const CACHE_CONTROL: &str = "public, max-age=300";

/// One serialised document and its entity tag.
struct Document {
    body: Bytes,
    etag: HeaderValue,
}

impl Document {
    fn new(body: String) -> Self {
        let etag = HeaderValue::from_str(&format!("\"{}\"", random::left_half_sha256(&body)))
            .unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body: Bytes::from(body),
            etag,
        }
    }

    /// 304 when the client already holds this version, else the document.
    fn respond(&self, req: &HttpRequest) -> HttpResponse {
        let mut res = if matches(req, &self.etag) {
            HttpResponse::NotModified().finish()
        } else {
            HttpResponse::Ok()
                .content_type("application/json")
                .body(self.body.clone())
        };
        let headers = res.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(CACHE_CONTROL),
        );
        res
    }
}

/// Whether `If-None-Match` names `etag` (weak comparison, RFC 9110 13.1.2) or is `*`.
fn matches(req: &HttpRequest, etag: &HeaderValue) -> bool {
    let Some(raw) = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let ours = etag.as_bytes();
    raw.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag).as_bytes() == ours)
}

/// Both documents as published for one key set.
struct Bodies {
    keys: Arc<KeySet>,
    discovery: Document,
    jwks: Document,
}

/// The cache of the published documents, kept in the application state.
#[derive(Default)]
pub struct Published {
    current: RwLock<Option<Arc<Bodies>>>,
}

impl Published {
    pub fn new() -> Self {
        Self::default()
    }

    /// The documents for the key set in force now, built on first use after each change.
    fn bodies(&self, state: &AppState) -> Arc<Bodies> {
        let keys = state.keys.get();
        let cached = match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(bodies) = cached.filter(|b| Arc::ptr_eq(&b.keys, &keys)) {
            return bodies;
        }
        let bodies = Arc::new(Bodies {
            discovery: Document::new(super::discovery_document(&state.config).to_string()),
            jwks: Document::new(keys.jwks_json().to_string()),
            keys,
        });
        match self.current.write() {
            Ok(mut guard) => *guard = Some(bodies.clone()),
            Err(poisoned) => *poisoned.into_inner() = Some(bodies.clone()),
        }
        bodies
    }

    /// `GET /.well-known/openid-configuration`.
    pub fn discovery(&self, state: &AppState, req: &HttpRequest) -> HttpResponse {
        self.bodies(state).discovery.respond(req)
    }

    /// `GET /jwks`.
    pub fn jwks(&self, state: &AppState, req: &HttpRequest) -> HttpResponse {
        self.bodies(state).jwks.respond(req)
    }
}
