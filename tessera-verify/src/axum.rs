//! axum integration (feature `axum`): the [`Authenticated`] extractor and the
//! [`require_scope`], [`require_role`] and [`require_group`] guards for
//! `axum::middleware::from_fn`.
//!
//! Add the [`Verifier`] as an `Extension` layer; then a protected route is one line:
//!
//! ```no_run
//! use axum::{Extension, Router, middleware::from_fn, routing::get};
//! use tessera_verify::axum::{Authenticated, require_scope};
//!
//! async fn orders(user: Authenticated) -> String {
//!     format!("orders of {}", user.sub)
//! }
//!
//! # fn app(verifier: tessera_verify::Verifier) -> Router {
//! Router::new()
//!     .route("/orders", get(orders).route_layer(from_fn(require_scope("orders:read"))))
//!     .layer(Extension(verifier))
//! # }
//! ```
//!
//! The answers are the same as with actix-web: 401 with `WWW-Authenticate: Bearer …`, 403
//! `insufficient_scope`, 503 when the provider's keys cannot be had.

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::claims::AccessClaims;
use crate::rejection::{Reason, Rejection, Requirement, bearer_token};
use crate::{Verifier, VerifyError};

/// The claims of the request's verified bearer access token; dereferences to them.
#[derive(Debug, Clone)]
pub struct Authenticated<C = AccessClaims> {
    claims: C,
    realm: String,
}

impl<C> Authenticated<C> {
    pub fn claims(&self) -> &C {
        &self.claims
    }

    pub fn into_inner(self) -> C {
        self.claims
    }
}

impl<C> Deref for Authenticated<C> {
    type Target = C;
    fn deref(&self) -> &C {
        &self.claims
    }
}

impl Authenticated<AccessClaims> {
    /// For a check inside a handler: `user.require_scope("orders:write")?;`.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthRejection> {
        Requirement::Scope(scope.to_string())
            .check(&self.claims, &self.realm)
            .map_err(AuthRejection)
    }

    pub fn require_role(&self, role: &str) -> Result<(), AuthRejection> {
        Requirement::Role(role.to_string())
            .check(&self.claims, &self.realm)
            .map_err(AuthRejection)
    }
}

/// The error answer of a refused request.
#[derive(Debug)]
pub struct AuthRejection(pub Rejection);

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = (status, self.0.body()).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.0.www_authenticate() {
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// The verified claims, kept in the request's extensions so that a guard and the extractor
/// verify each token once.
#[derive(Clone)]
struct Verified(Arc<Value>);

async fn verified(parts: &mut Parts) -> Result<(Arc<Value>, String), AuthRejection> {
    let Some(verifier) = parts.extensions.get::<Verifier>().cloned() else {
        tracing::error!("No tessera_verify::Verifier is registered as an axum Extension.");
        return Err(AuthRejection(Rejection::new("", Reason::NotConfigured)));
    };
    let realm = verifier.realm().to_string();
    if let Some(Verified(claims)) = parts.extensions.get::<Verified>() {
        return Ok((Arc::clone(claims), realm));
    }
    let reject = |reason| AuthRejection(Rejection::new(&realm, reason));
    let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value,
        (None, _) => return Err(reject(Reason::Missing)),
        (Some(_), Some(_)) => return Err(reject(Reason::BadHeader)),
    };
    let raw = value.to_str().map_err(|_| reject(Reason::BadHeader))?;
    let token = bearer_token(raw)
        .map_err(reject)?
        .ok_or_else(|| reject(Reason::Missing))?;
    let claims = verifier
        .verify_access_token_as::<Value>(token)
        .await
        .map_err(|e| {
            tracing::debug!(error = %e, "Refused a bearer token.");
            reject(Reason::Token(e))
        })?;
    let claims = Arc::new(claims);
    parts.extensions.insert(Verified(Arc::clone(&claims)));
    Ok((claims, realm))
}

fn typed<C: DeserializeOwned>(claims: &Value, realm: &str) -> Result<C, AuthRejection> {
    C::deserialize(claims)
        .map_err(|_| AuthRejection(Rejection::new(realm, Reason::Token(VerifyError::Claims))))
}

impl<S, C> FromRequestParts<S> for Authenticated<C>
where
    S: Send + Sync,
    C: DeserializeOwned + Send + 'static,
{
    type Rejection = AuthRejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthRejection> {
        let (claims, realm) = verified(parts).await?;
        let claims = typed(&claims, &realm)?;
        Ok(Authenticated { claims, realm })
    }
}

type Guard = Pin<Box<dyn Future<Output = Response> + Send>>;

fn guard(requirement: Requirement) -> impl Fn(Request, Next) -> Guard + Clone + Send + Sync {
    move |req: Request, next: Next| {
        let requirement = requirement.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let verdict = async {
                let (claims, realm) = verified(&mut parts).await?;
                let claims: AccessClaims = typed(&claims, &realm)?;
                requirement.check(&claims, &realm).map_err(AuthRejection)
            }
            .await;
            match verdict {
                Ok(()) => next.run(Request::from_parts(parts, body)).await,
                Err(rejection) => rejection.into_response(),
            }
        })
    }
}

/// A guard for `axum::middleware::from_fn`: a valid access token granted `scope`.
pub fn require_scope(
    scope: impl Into<String>,
) -> impl Fn(Request, Next) -> Guard + Clone + Send + Sync {
    guard(Requirement::Scope(scope.into()))
}

/// A guard for `axum::middleware::from_fn`: a valid access token whose `roles` include `role`.
pub fn require_role(
    role: impl Into<String>,
) -> impl Fn(Request, Next) -> Guard + Clone + Send + Sync {
    guard(Requirement::Role(role.into()))
}

/// A guard for `axum::middleware::from_fn`: a valid access token whose `groups` include
/// `group`.
pub fn require_group(
    group: impl Into<String>,
) -> impl Fn(Request, Next) -> Guard + Clone + Send + Sync {
    guard(Requirement::Group(group.into()))
}
