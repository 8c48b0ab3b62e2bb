//! The protocol: discovery, JWKS, authorization (with consent), token, userinfo,
//! introspection, revocation and RP-initiated logout.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod consent;
pub mod grants;
pub mod introspect;
pub mod logout;
pub mod published;
pub mod token;
pub mod userinfo;

use actix_web::{HttpRequest, HttpResponse, web};

use crate::config::Config;
use crate::domain::scope;
use crate::state::AppState;
use crate::web::cors;
use crate::web::pages::paths;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.well-known/openid-configuration")
            .wrap(cors())
            .route(web::get().to(discovery)),
    )
    .service(
        web::resource("/jwks")
            .wrap(cors())
            .route(web::get().to(jwks)),
    )
    .service(
        web::resource("/authorize")
            .route(web::get().to(authorize::get))
            .route(web::post().to(authorize::post)),
    )
    .route(paths::CONSENT, web::post().to(consent::submit))
    .service(
        web::resource("/token")
            .wrap(cors())
            .route(web::post().to(token::token)),
    )
    .service(
        web::resource("/userinfo")
            .wrap(cors())
            .route(web::get().to(userinfo::get))
            .route(web::post().to(userinfo::post)),
    )
    .route("/introspect", web::post().to(introspect::introspect))
    .route("/revoke", web::post().to(introspect::revoke))
    .service(
        web::resource(paths::LOGOUT)
            .route(web::get().to(logout::get))
            .route(web::post().to(logout::post)),
    );
}

/// OpenID Connect Discovery 1.0 metadata, served from [`published`].
async fn discovery(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    state.published.discovery(&state, &req)
}

/// The discovery document of this configuration.
pub fn discovery_document(c: &Config) -> serde_json::Value {
    serde_json::json!({
        "issuer": c.issuer,
        "authorization_endpoint": c.url("/authorize"),
        "token_endpoint": c.url("/token"),
        "userinfo_endpoint": c.url("/userinfo"),
        "jwks_uri": c.url("/jwks"),
        "revocation_endpoint": c.url("/revoke"),
        "introspection_endpoint": c.url("/introspect"),
        "end_session_endpoint": c.url("/logout"),
        "scopes_supported": scope::SUPPORTED,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "azp", "at_hash",
            "sid", "amr", "acr", "name", "preferred_username", "email", "email_verified",
            "roles", "groups"
        ],
        "prompt_values_supported": ["none", "login", "consent"],
        "acr_values_supported": ["1", "2"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
    })
}

/// The published public keys, served from [`published`].
async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    state.published.jwks(&state, &req)
}
