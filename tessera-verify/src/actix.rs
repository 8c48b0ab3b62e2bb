//! actix-web integration: the [`Authenticated`] extractor and the [`require_scope`],
//! [`require_role`] and [`require_group`] route guards.
//!
//! Register a [`Verifier`] with `App::app_data` (directly, or as `web::Data<Verifier>`); then a
//! protected route is one line:
//!
//! ```no_run
//! use actix_web::{App, web};
//! use tessera_verify::actix::{Authenticated, require_scope};
//!
//! async fn orders(user: Authenticated) -> String {
//!     format!("orders of {}", user.sub)
//! }
//!
//! # fn app(verifier: tessera_verify::Verifier) {
//! App::new()
//!     .app_data(verifier)
//!     .route("/orders", web::get().to(orders).wrap(require_scope("orders:read")));
//! # }
//! ```
//!
//! No token gives 401 with `WWW-Authenticate: Bearer realm="…"`; a refused token 401 with
//! `error="invalid_token"`; a missing scope, role or group 403 with
//! `error="insufficient_scope"`; unreachable provider keys 503.

use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError, web};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::claims::AccessClaims;
use crate::rejection::{Reason, Rejection, Requirement, bearer_token};
use crate::{Verifier, VerifyError};

/// The claims of the request's verified bearer access token: `Authenticated` (for
/// [`AccessClaims`]) or `Authenticated<MyClaims>` for the app's own claims type.
/// It dereferences to the claims.
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
    /// For a check inside a handler: `user.require_scope("orders:write")?;` answers 403
    /// `insufficient_scope` when the scope was not granted.
    pub fn require_scope(&self, scope: &str) -> Result<(), AuthError> {
        self.require(Requirement::Scope(scope.to_string()))
    }

    pub fn require_role(&self, role: &str) -> Result<(), AuthError> {
        self.require(Requirement::Role(role.to_string()))
    }

    fn require(&self, requirement: Requirement) -> Result<(), AuthError> {
        requirement
            .check(&self.claims, &self.realm)
            .map_err(AuthError)
    }
}

/// The error answer of a refused request (see the module documentation).
#[derive(Debug)]
pub struct AuthError(pub Rejection);

impl std::fmt::Display for AuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for AuthError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code());
        resp.insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = self.0.www_authenticate() {
            resp.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if self.0.status() == 503 {
            resp.insert_header((header::RETRY_AFTER, "5"));
        }
        resp.content_type("application/json").body(self.0.body())
    }
}

/// The verified claims, kept in the request's extensions so that guards and the extractor
/// verify each token once.
#[derive(Clone)]
struct Verified(Arc<Value>);

fn verifier_of(req: &HttpRequest) -> Option<Verifier> {
    req.app_data::<Verifier>().cloned().or_else(|| {
        req.app_data::<web::Data<Verifier>>()
            .map(|d| d.get_ref().clone())
    })
}

/// Verifies the request's bearer token once (later calls reuse the result).
async fn verified(req: &HttpRequest) -> Result<(Arc<Value>, String), AuthError> {
    let Some(verifier) = verifier_of(req) else {
        tracing::error!("No tessera_verify::Verifier is registered with App::app_data.");
        return Err(AuthError(Rejection::new("", Reason::NotConfigured)));
    };
    let realm = verifier.realm().to_string();
    let cached = req.extensions().get::<Verified>().cloned();
    if let Some(Verified(claims)) = cached {
        return Ok((claims, realm));
    }
    let reject = |reason| AuthError(Rejection::new(&realm, reason));
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let (Some(value), None) = (values.next(), values.next()) else {
        let several = req.headers().get_all(header::AUTHORIZATION).count() > 1;
        return Err(reject(if several {
            Reason::BadHeader
        } else {
            Reason::Missing
        }));
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
    req.extensions_mut().insert(Verified(Arc::clone(&claims)));
    Ok((claims, realm))
}

fn typed<C: DeserializeOwned>(claims: &Value, realm: &str) -> Result<C, AuthError> {
    C::deserialize(claims)
        .map_err(|_| AuthError(Rejection::new(realm, Reason::Token(VerifyError::Claims))))
}

impl<C: DeserializeOwned + 'static> FromRequest for Authenticated<C> {
    type Error = AuthError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, AuthError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let (claims, realm) = verified(&req).await?;
            let claims = typed(&claims, &realm)?;
            Ok(Authenticated { claims, realm })
        })
    }
}

/// A route guard: the request needs a valid access token granted `scope`.
pub fn require_scope(scope: impl Into<String>) -> Require {
    Require(Requirement::Scope(scope.into()))
}

/// A route guard: the request needs a valid access token whose `roles` include `role`.
pub fn require_role(role: impl Into<String>) -> Require {
    Require(Requirement::Role(role.into()))
}

/// A route guard: the request needs a valid access token whose `groups` include `group`.
pub fn require_group(group: impl Into<String>) -> Require {
    Require(Requirement::Group(group.into()))
}

/// Middleware made by [`require_scope`], [`require_role`] and [`require_group`]; wrap a
/// `Route`, `Resource` or `Scope` with it.
#[derive(Debug, Clone)]
pub struct Require(Requirement);

impl<S, B> Transform<S, ServiceRequest> for Require
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RequireMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequireMiddleware {
            service: Rc::new(service),
            requirement: self.0.clone(),
        }))
    }
}

/// The service of a [`Require`] guard.
pub struct RequireMiddleware<S> {
    service: Rc<S>,
    requirement: Requirement,
}

impl<S, B> Service<ServiceRequest> for RequireMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let requirement = self.requirement.clone();
        Box::pin(async move {
            let verdict = async {
                let (claims, realm) = verified(req.request()).await?;
                let claims: AccessClaims = typed(&claims, &realm)?;
                requirement.check(&claims, &realm).map_err(AuthError)
            }
            .await;
            match verdict {
                Ok(()) => service.call(req).await.map(|r| r.map_into_left_body()),
                Err(e) => Ok(req.error_response(e).map_into_right_body()),
            }
        })
    }
}
