//! The admin console (`/admin`, HTML for people with the admin role) and the admin JSON API
//! (`/admin/api/v1`, for access tokens with the `tessera:admin` scope). Both call the audited
//! operations of [`crate::manage::ops`].

pub mod api;
pub mod api_docs;
pub mod api_types;
pub mod auth;
pub mod console;
pub mod console_clients;
pub mod console_pages;
pub mod console_users;
pub mod paging;
pub mod problem;

use actix_web::web;

use crate::audit::Actor;
use crate::clock;
use crate::db::Conn;
use crate::manage::ManageError;
use crate::manage::ops::By;
use crate::state::AppState;

/// Runs one admin operation off the async workers, as `actor`, at the current time.
pub async fn run_op<T, F>(state: &AppState, actor: Actor, f: F) -> Result<T, ManageError>
where
    F: FnOnce(&mut Conn, &By<'_>) -> Result<T, ManageError> + Send + 'static,
    T: Send + 'static,
{
    let audit = state.audit.clone();
    let now = clock::now();
    state
        .db
        .run(move |conn| {
            let by = By {
                actor: &actor,
                audit: &audit,
                now,
            };
            f(conn, &by)
        })
        .await
}

/// Access-token lifetime in seconds: how long revoked access-token ids must be remembered.
pub fn access_ttl(state: &AppState) -> i64 {
    state.config.access_token_ttl.as_secs() as i64
}

/// The routes of the console and the API.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(api::scope()).configure(console::configure);
}
