//! Errors of the admin API as RFC 9457 problem details (`application/problem+json`).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbError;
use crate::manage::ManageError;

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`: the status and title say what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    pub status: u16,
    /// What was wrong, in words (never a secret).
    pub detail: String,
}

/// An error answer of the admin API.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub detail: String,
    /// The `WWW-Authenticate` value of a 401 or 403.
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            challenge: None,
        }
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 401: no token at all (RFC 6750 3.1: no error code).
    pub fn no_token() -> Self {
        Self {
            challenge: Some("Bearer realm=\"tessera\"".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "an access token is required")
        }
    }

    /// 401: a token that is malformed, expired, revoked or not ours.
    pub fn invalid_token() -> Self {
        Self {
            challenge: Some("Bearer realm=\"tessera\", error=\"invalid_token\"".into()),
            ..Self::new(StatusCode::UNAUTHORIZED, "the access token is invalid")
        }
    }

    /// 403: a valid token that does not authorize the admin API.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self {
            challenge: Some(
                "Bearer realm=\"tessera\", error=\"insufficient_scope\", scope=\"tessera:admin\""
                    .into(),
            ),
            ..Self::new(StatusCode::FORBIDDEN, detail)
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl From<ManageError> for ApiError {
    fn from(e: ManageError) -> Self {
        match e {
            ManageError::Invalid(d) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, d),
            ManageError::Exists(_) => Self::new(StatusCode::CONFLICT, e.to_string()),
            ManageError::NotFound(_) => Self::new(StatusCode::NOT_FOUND, e.to_string()),
            ManageError::Db(db) => Self::from(db),
            ManageError::Busy => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too many passwords are being hashed right now, try again shortly",
            ),
            other => {
                tracing::error!(error = %other, cause = ?std::error::Error::source(&other),
                    "An admin operation failed.");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "an internal error occurred",
                )
            }
        }
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "A database call failed.");
        match e {
            DbError::Pool(_) | DbError::Blocking => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is busy, try again shortly",
            ),
            _ => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "an internal error occurred",
            ),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, "application/problem+json"))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Some(challenge) = &self.challenge {
            res.insert_header((header::WWW_AUTHENTICATE, challenge.as_str()));
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            res.insert_header((header::RETRY_AFTER, "5"));
        }
        let body = Problem {
            kind: "about:blank".into(),
            title: self
                .status
                .canonical_reason()
                .unwrap_or("Error")
                .to_string(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
        };
        res.body(serde_json::to_string(&body).unwrap_or_default())
    }
}

/// Parses a JSON request body, after the caller was authorized (an extractor would read it
/// first and answer 400 before 401/403). An empty body reads as `{}`.
pub fn json_body<T: serde::de::DeserializeOwned>(
    req: &actix_web::HttpRequest,
    body: &[u8],
) -> Result<T, ApiError> {
    if body.is_empty() {
        return serde_json::from_slice(b"{}")
            .map_err(|e| ApiError::bad_request(format!("a JSON body is required: {e}")));
    }
    let json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || v.ends_with("+json")
        });
    if !json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the body must be application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(if e.is_data() {
            format!("the body does not match the schema: {e}")
        } else {
            "the body is not valid JSON".to_string()
        })
    })
}
