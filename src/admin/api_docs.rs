//! The OpenAPI 3.1 document of the admin API, generated from the handlers' annotations.

use actix_web::HttpResponse;
use actix_web::http::header;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;
use super::problem::Problem;

#[derive(OpenApi)]
#[openapi(
    info(title = "Tessera admin API", version = "1",
        description = "Manage clients, users, sessions, signing keys and read the audit log. \
                       Every call needs an access token with the `tessera:admin` scope."),
    paths(
        api::dashboard,
        api::list_clients, api::create_client, api::get_client, api::update_client,
        api::delete_client, api::rotate_secret,
        api::list_users, api::create_user, api::get_user, api::update_user, api::reset_password, api::reset_mfa,
        api::list_sessions, api::end_session,
        api::list_keys, api::rotate_key, api::retire_key,
        api::audit,
    ),
    components(schemas(Problem)),
    modifiers(&BearerAuth),
    security(("bearer" = ["tessera:admin"])),
)]
pub struct AdminApiDoc;

/// Declares the bearer access-token scheme every operation uses.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            let mut scheme = Http::new(HttpAuthScheme::Bearer);
            scheme.bearer_format = Some("JWT".into());
            components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
        }
    }
}

/// `GET /admin/api/v1/openapi.json` (public: the document holds no data).
pub async fn openapi_json() -> HttpResponse {
    match AdminApiDoc::openapi().to_json() {
        Ok(body) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "The OpenAPI document could not be written.");
            HttpResponse::InternalServerError().finish()
        }
    }
}
