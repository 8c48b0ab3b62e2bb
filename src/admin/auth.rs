//! Who may use the admin console and API, as types: a handler that takes an [`AdminSession`]
//! or an [`AdminToken`] runs only for an admin.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};

use super::problem::ApiError;
use crate::audit::Actor;
use crate::clock;
use crate::db::users::User;
use crate::db::{self, DbError};
use crate::domain::scope::{self, Scopes};
use crate::oidc::userinfo::{header_token, verify_access_token};
use crate::state::AppState;
use crate::web::{login, pages, session};

/// A signed-in person who holds the admin role, with the CSRF token of their browser.
pub struct AdminSession {
    pub user: User,
    pub csrf: String,
}

impl AdminSession {
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.id.clone())
    }

    /// Whether a submitted form carries this browser's CSRF token.
    pub fn csrf_ok(&self, presented: Option<&str>) -> bool {
        presented.is_some_and(|p| crate::crypto::random::equal(&self.csrf, p))
    }
}

/// Why the console was refused.
#[derive(Debug)]
pub enum ConsoleRefusal {
    /// Not signed in: sent to the login page, which returns here.
    SignIn(String),
    /// Signed in without the admin role.
    Forbidden,
    Unavailable(String),
}

impl std::fmt::Display for ConsoleRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the admin console was refused")
    }
}

impl ResponseError for ConsoleRefusal {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::SignIn(_) => StatusCode::SEE_OTHER,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::SignIn(return_to) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, login::login_url(return_to)))
                .finish(),
            Self::Forbidden => pages::error_page(
                StatusCode::FORBIDDEN,
                "Admins only",
                "The admin console is only for people who hold the admin role.",
            ),
            Self::Unavailable(e) => crate::web::unavailable(DbError::Url(e.clone())),
        }
    }
}

fn app_state(req: &HttpRequest) -> Option<web::Data<AppState>> {
    req.app_data::<web::Data<AppState>>().cloned()
}

impl FromRequest for AdminSession {
    type Error = ConsoleRefusal;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req)
                .ok_or_else(|| ConsoleRefusal::Unavailable("no application state".into()))?;
            let now = clock::now();
            let browser = session::load(&req, &state, now)
                .await
                .map_err(|e| ConsoleRefusal::Unavailable(e.to_string()))?;
            let return_to = if req.method() == actix_web::http::Method::GET {
                req.uri().to_string()
            } else {
                "/admin".to_string()
            };
            let (Some(session), Some(csrf)) = (browser.session.as_ref(), browser.csrf()) else {
                return Err(ConsoleRefusal::SignIn(return_to));
            };
            let user_id = session.user_id.clone();
            let user = state
                .db
                .run(move |conn| db::users::find(conn, &user_id).map_err(DbError::from))
                .await
                .map_err(|e| ConsoleRefusal::Unavailable(e.to_string()))?
                .filter(|u| !u.disabled)
                .ok_or(ConsoleRefusal::SignIn(return_to))?;
            if !user.is_admin {
                tracing::info!(user_id = %user.id, "The admin console was refused to a person without the admin role.");
                return Err(ConsoleRefusal::Forbidden);
            }
            Ok(AdminSession { user, csrf })
        })
    }
}

/// A verified access token with the `tessera:admin` scope, issued to an admin person or to a
/// client allowed that scope.
pub struct AdminToken {
    pub actor: Actor,
}

impl FromRequest for AdminToken {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = app_state(&req).ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred",
                )
            })?;
            let token = header_token(&req)
                .map_err(|_| ApiError::invalid_token())?
                .ok_or_else(ApiError::no_token)?;
            let claims = verify_access_token(&state, &token, clock::now())
                .await?
                .ok_or_else(ApiError::invalid_token)?;
            let granted = Scopes::parse(&claims.scope).unwrap_or_default();
            if !granted.contains(scope::ADMIN) {
                return Err(ApiError::forbidden(
                    "the access token does not carry the tessera:admin scope",
                ));
            }
            let person = claims.auth_time.is_some();
            let (sub, client_id) = (claims.sub.clone(), claims.client_id.clone());
            let allowed = state
                .db
                .run(move |conn| -> Result<bool, DbError> {
                    if person {
                        Ok(db::users::find(conn, &sub)?.is_some_and(|u| u.is_admin && !u.disabled))
                    } else {
                        Ok(db::clients::find(conn, &client_id)?
                            .is_some_and(|c| c.scopes.iter().any(|s| s == scope::ADMIN)))
                    }
                })
                .await?;
            if !allowed {
                return Err(ApiError::forbidden(if person {
                    "the person does not hold the admin role"
                } else {
                    "the client is no longer allowed the tessera:admin scope"
                }));
            }
            let actor = if person {
                Actor::User(claims.sub)
            } else {
                Actor::Client(claims.client_id)
            };
            Ok(AdminToken { actor })
        })
    }
}
