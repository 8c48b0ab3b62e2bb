//! The routes of the example orders API: every protected route is one line.

use actix_web::{HttpResponse, web};
use serde_json::json;
use tessera_verify::actix::{Authenticated, require_role, require_scope};

/// Registers the routes; the app must also hold a `tessera_verify::Verifier` in `app_data`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/me", web::get().to(me))
        .route(
            "/orders",
            web::get()
                .to(list_orders)
                .wrap(require_scope("orders:read")),
        )
        .route(
            "/orders",
            web::post()
                .to(create_order)
                .wrap(require_scope("orders:write")),
        )
        .route(
            "/admin/report",
            web::get().to(report).wrap(require_role("admin")),
        );
}

/// Public: no token needed.
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Any valid access token: who is calling.
async fn me(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "sub": user.sub,
        "client_id": user.client_id,
        "scopes": user.scopes().collect::<Vec<_>>(),
        "roles": user.roles,
    }))
}

async fn list_orders(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "owner": user.sub,
        "orders": [{"id": 1, "item": "tessera tiles", "quantity": 40}],
    }))
}

async fn create_order(user: Authenticated) -> HttpResponse {
    HttpResponse::Created().json(json!({"owner": user.sub, "id": 2}))
}

async fn report(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(json!({"requested_by": user.sub, "orders": 2}))
}
