//! The admin JSON API under `/admin/api/v1`: every handler takes an [`AdminToken`], calls one
//! operation and answers JSON, or RFC 9457 problem details.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, Scope, web};
use serde::Serialize;

use super::api_types::*;
use super::auth::AdminToken;
use super::paging::{ApiSlice, ListQuery};
use super::problem::{ApiError, Problem, json_body};
use super::{access_ttl, run_op};
use crate::clock;
use crate::db::search::{Page, Slice};
use crate::db::{self, Conn, DbError};
use crate::manage::ops::{self, ClientChanges, UserChanges};
use crate::manage::{ManageError, NewClient, NewUser};
use crate::state::AppState;

pub const PREFIX: &str = "/admin/api/v1";

type Answer = Result<HttpResponse, ApiError>;

fn json<T: Serialize>(status: StatusCode, body: &T) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// Answers one page of a listing: reads `?q=&page=&per_page=` (after the token was checked, so
/// that a caller without one learns nothing), loads the page off the async workers, and
/// answers its rows converted to `O`.
async fn listing<T, O, F>(state: &AppState, req: &HttpRequest, load: F) -> Answer
where
    F: FnOnce(&mut Conn, &Slice) -> Result<Page<T>, ManageError> + Send + 'static,
    T: Into<O> + Send + 'static,
    O: Serialize,
{
    let asked = ApiSlice::parse(req.query_string())?;
    let slice = asked.slice.clone();
    let page = state.db.run(move |conn| load(conn, &slice)).await?;
    let rows: Vec<O> = page.rows.into_iter().map(Into::into).collect();
    Ok(asked.answer(req.path(), page.total, &rows))
}

pub fn scope() -> Scope {
    web::scope(PREFIX)
        .app_data(
            web::PathConfig::default()
                .error_handler(|err, _| ApiError::bad_request(format!("bad path: {err}")).into()),
        )
        .route(
            "/openapi.json",
            web::get().to(super::api_docs::openapi_json),
        )
        .route("/dashboard", web::get().to(dashboard))
        .route("/clients", web::get().to(list_clients))
        .route("/clients", web::post().to(create_client))
        .route("/clients/{client_id}", web::get().to(get_client))
        .route("/clients/{client_id}", web::patch().to(update_client))
        .route("/clients/{client_id}", web::delete().to(delete_client))
        .route("/clients/{client_id}/secret", web::post().to(rotate_secret))
        .route("/users", web::get().to(list_users))
        .route("/users", web::post().to(create_user))
        .route("/users/{user_id}", web::get().to(get_user))
        .route("/users/{user_id}", web::patch().to(update_user))
        .route("/users/{user_id}/password", web::post().to(reset_password))
        .route("/users/{user_id}/mfa/reset", web::post().to(reset_mfa))
        .route("/sessions", web::get().to(list_sessions))
        .route("/sessions/{sid}", web::delete().to(end_session))
        .route("/keys", web::get().to(list_keys))
        .route("/keys", web::post().to(rotate_key))
        .route("/keys/{kid}/retire", web::post().to(retire_key))
        .route("/audit", web::get().to(audit))
        .default_service(web::to(|| async {
            Err::<HttpResponse, _>(ApiError::new(StatusCode::NOT_FOUND, "no such API route"))
        }))
}

/// Counts of users, clients, sessions and tokens, and the signing keys with their age.
#[utoipa::path(get, path = "/admin/api/v1/dashboard", tag = "dashboard",
    responses((status = 200, body = Dashboard), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn dashboard(_admin: AdminToken, state: web::Data<AppState>) -> Answer {
    let now = clock::now();
    let (counts, keys) = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            Ok((db::admin::counts(conn, now)?, db::keys::all(conn)?))
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        &Dashboard {
            users: counts.users,
            admins: counts.admins,
            disabled_users: counts.disabled_users,
            clients: counts.clients,
            live_sessions: counts.live_sessions,
            live_refresh_tokens: counts.live_refresh_tokens,
            keys: KeyOut::list(keys, now),
        },
    ))
}

/// Registered clients, by client id, a page at a time, optionally filtered by text.
#[utoipa::path(get, path = "/admin/api/v1/clients", tag = "clients", params(ListQuery),
    responses((status = 200, body = Vec<ClientOut>, headers(("X-Total-Count" = i64, description = "rows matching in all"), ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages"))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_clients(
    _admin: AdminToken,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    listing::<_, ClientOut, _>(&state, &req, |conn, slice| {
        Ok(db::admin::clients(conn, slice).map_err(DbError::from)?)
    })
    .await
}

/// Registers a client; a confidential client's secret is generated and answered once.
#[utoipa::path(post, path = "/admin/api/v1/clients", tag = "clients", request_body = NewClientIn,
    responses((status = 201, body = ClientCreated), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_client(
    admin: AdminToken,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Answer {
    let b: NewClientIn = json_body(&req, &body)?;
    let id = b.client_id.trim().to_string();
    let new = NewClient {
        client_id: b.client_id,
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        public: b.public,
        grant_types: b.grant_types,
        scopes: b.scopes,
        first_party: b.first_party,
        secret: None,
    };
    let (secret, client) = run_op(&state, admin.actor, move |conn, by| {
        let secret = ops::create_client(conn, by, new)?;
        Ok((secret, ops::client(conn, &id)?))
    })
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &ClientCreated {
            client: client.into(),
            client_secret: secret,
        },
    ))
}

/// One client.
#[utoipa::path(get, path = "/admin/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "the client id")),
    responses((status = 200, body = ClientOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_client(
    _admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let id = path.into_inner();
    let client = state.db.run(move |conn| ops::client(conn, &id)).await?;
    Ok(json(StatusCode::OK, &ClientOut::from(client)))
}

/// Changes a client's name, redirect URIs, grant types, scopes or first-party flag.
#[utoipa::path(patch, path = "/admin/api/v1/clients/{client_id}", tag = "clients", request_body = ClientPatch,
    params(("client_id" = String, Path, description = "the client id")),
    responses((status = 200, body = ClientOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_client(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Answer {
    let b: ClientPatch = json_body(&req, &body)?;
    let id = path.into_inner();
    let changes = ClientChanges {
        name: b.name,
        redirect_uris: b.redirect_uris,
        post_logout_redirect_uris: b.post_logout_redirect_uris,
        grant_types: b.grant_types,
        scopes: b.scopes,
        first_party: b.first_party,
    };
    let client = run_op(&state, admin.actor, move |conn, by| {
        ops::update_client(conn, by, &id, changes)
    })
    .await?;
    Ok(json(StatusCode::OK, &ClientOut::from(client)))
}

/// Deletes a client with its codes, refresh tokens and consents.
#[utoipa::path(delete, path = "/admin/api/v1/clients/{client_id}", tag = "clients",
    params(("client_id" = String, Path, description = "the client id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_client(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let id = path.into_inner();
    run_op(&state, admin.actor, move |conn, by| {
        ops::delete_client(conn, by, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Generates a new secret for a confidential client, answered once.
#[utoipa::path(post, path = "/admin/api/v1/clients/{client_id}/secret", tag = "clients",
    params(("client_id" = String, Path, description = "the client id")),
    responses((status = 200, body = SecretOut), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn rotate_secret(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let id = path.into_inner();
    let secret = run_op(&state, admin.actor, move |conn, by| {
        ops::rotate_client_secret(conn, by, &id)
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &SecretOut {
            client_secret: secret,
        },
    ))
}

/// Users with roles and groups, by username, a page at a time, optionally filtered by text.
#[utoipa::path(get, path = "/admin/api/v1/users", tag = "users", params(ListQuery),
    responses((status = 200, body = Vec<UserOut>, headers(("X-Total-Count" = i64, description = "rows matching in all"), ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages"))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_users(
    _admin: AdminToken,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    listing::<_, UserOut, _>(&state, &req, ops::users).await
}

/// Creates a user; without a password one is generated and answered once.
#[utoipa::path(post, path = "/admin/api/v1/users", tag = "users", request_body = NewUserIn,
    responses((status = 201, body = UserCreated), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    admin: AdminToken,
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Answer {
    let b: NewUserIn = json_body(&req, &body)?;
    let generated = b.password.is_none().then(crate::crypto::random::token);
    let new = NewUser {
        username: b.username,
        email: b.email,
        password: b.password.or_else(|| generated.clone()).unwrap_or_default(),
        name: b.name,
        admin: false,
    };
    let (roles, groups) = (b.roles, b.groups);
    crate::manage::check_new_user(&new)?;
    let hash = state
        .hashing
        .hash(new.password.clone())
        .await
        .map_err(ManageError::from)?;
    let view = run_op(&state, admin.actor, move |conn, by| {
        ops::create_user(conn, by, new, hash, roles, groups)
    })
    .await?;
    Ok(json(
        StatusCode::CREATED,
        &UserCreated {
            user: view.into(),
            password: generated,
        },
    ))
}

/// One user.
#[utoipa::path(get, path = "/admin/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "the user id")),
    responses((status = 200, body = UserOut), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_user(
    _admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let id = path.into_inner();
    let view = state.db.run(move |conn| ops::user(conn, &id)).await?;
    Ok(json(StatusCode::OK, &UserOut::from(view)))
}

/// Disables or enables a user, or replaces their roles and groups.
#[utoipa::path(patch, path = "/admin/api/v1/users/{user_id}", tag = "users", request_body = UserPatch,
    params(("user_id" = String, Path, description = "the user id")),
    responses((status = 200, body = UserOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_user(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Answer {
    let b: UserPatch = json_body(&req, &body)?;
    let id = path.into_inner();
    let changes = UserChanges {
        disabled: b.disabled,
        roles: b.roles,
        groups: b.groups,
        mfa_required: b.mfa_required,
    };
    let ttl = access_ttl(&state);
    let view = run_op(&state, admin.actor, move |conn, by| {
        ops::update_user(conn, by, &id, changes, ttl)
    })
    .await?;
    Ok(json(StatusCode::OK, &UserOut::from(view)))
}

/// Sets a new password (or generates one, answered once) and signs the user out everywhere.
#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/password", tag = "users", request_body = PasswordIn,
    params(("user_id" = String, Path, description = "the user id")),
    responses((status = 200, body = PasswordOut), (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn reset_password(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
    body: web::Bytes,
) -> Answer {
    let given = json_body::<PasswordIn>(&req, &body)?.password;
    let id = path.into_inner();
    let ttl = access_ttl(&state);
    let (chosen, generated) = ops::choose_password(given)?;
    let hash = state
        .hashing
        .hash(chosen)
        .await
        .map_err(ManageError::from)?;
    run_op(&state, admin.actor, move |conn, by| {
        ops::reset_password(conn, by, &id, hash, ttl)
    })
    .await?;
    Ok(json(
        StatusCode::OK,
        &PasswordOut {
            password: generated,
        },
    ))
}

/// Removes a user's TOTP key and recovery codes (for a lost authenticator).
#[utoipa::path(post, path = "/admin/api/v1/users/{user_id}/mfa/reset", tag = "users",
    params(("user_id" = String, Path, description = "the user id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn reset_mfa(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let id = path.into_inner();
    run_op(&state, admin.actor, move |conn, by| {
        ops::reset_mfa(conn, by, &id)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Live browser sessions, newest first, a page at a time, optionally filtered by username.
#[utoipa::path(get, path = "/admin/api/v1/sessions", tag = "sessions", params(ListQuery),
    responses((status = 200, body = Vec<SessionOut>, headers(("X-Total-Count" = i64, description = "rows matching in all"), ("Link" = String, description = "RFC 8288 links to the first, previous, next and last pages"))), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_sessions(
    _admin: AdminToken,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Answer {
    let now = clock::now();
    listing::<_, SessionOut, _>(&state, &req, move |conn, slice| {
        Ok(db::admin::live_sessions(conn, now, slice).map_err(DbError::from)?)
    })
    .await
}

/// Ends a browser session.
#[utoipa::path(delete, path = "/admin/api/v1/sessions/{sid}", tag = "sessions",
    params(("sid" = String, Path, description = "the public session id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn end_session(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let sid = path.into_inner();
    run_op(&state, admin.actor, move |conn, by| {
        ops::end_session(conn, by, &sid)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The signing keys, with their state and age.
#[utoipa::path(get, path = "/admin/api/v1/keys", tag = "keys",
    responses((status = 200, body = Vec<KeyOut>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_keys(_admin: AdminToken, state: web::Data<AppState>) -> Answer {
    let rows = state
        .db
        .run(|conn| db::keys::all(conn).map_err(DbError::from))
        .await?;
    Ok(json(StatusCode::OK, &KeyOut::list(rows, clock::now())))
}

/// Creates a new signing key and retires the previous one (published until its tokens expire).
#[utoipa::path(post, path = "/admin/api/v1/keys", tag = "keys",
    responses((status = 201, body = KeyRotated), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn rotate_key(admin: AdminToken, state: web::Data<AppState>) -> Answer {
    let vault = crate::crypto::keys::KeyVault::from_config(&state.config);
    let prepublish = state.config.key_prepublish.as_secs() as i64;
    let kid = run_op(&state, admin.actor, move |conn, by| {
        ops::rotate_key(conn, by, &vault, prepublish)
    })
    .await?;
    Ok(json(StatusCode::CREATED, &KeyRotated { kid }))
}

/// Retires one signing key (another active key must remain).
#[utoipa::path(post, path = "/admin/api/v1/keys/{kid}/retire", tag = "keys",
    params(("kid" = String, Path, description = "the key id")),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn retire_key(
    admin: AdminToken,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Answer {
    let kid = path.into_inner();
    run_op(&state, admin.actor, move |conn, by| {
        ops::retire_key(conn, by, &kid)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The audit log, newest first, optionally filtered by text.
#[utoipa::path(get, path = "/admin/api/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn audit(_admin: AdminToken, state: web::Data<AppState>, req: HttpRequest) -> Answer {
    // Parsed after the token was checked, so that a caller without one learns nothing.
    let q = web::Query::<AuditQuery>::from_query(req.query_string())
        .map_err(|e| ApiError::bad_request(format!("bad query: {e}")))?
        .into_inner();
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(50);
    if page == 0 || !(1..=200).contains(&per_page) {
        return Err(ApiError::bad_request(
            "page starts at 1 and per_page is 1 to 200",
        ));
    }
    if q.q.as_ref().is_some_and(|t| t.len() > 200) {
        return Err(ApiError::bad_request("q is at most 200 characters"));
    }
    let offset = i64::from(page - 1) * i64::from(per_page);
    let text = q.q;
    let (rows, total) = state
        .db
        .run(move |conn| {
            db::audit::search(conn, text.as_deref(), offset, i64::from(per_page))
                .map_err(|e| ManageError::from(DbError::from(e)))
        })
        .await?;
    Ok(json(
        StatusCode::OK,
        &AuditPage {
            events: rows.into_iter().map(AuditEventOut::from).collect(),
            total,
            page,
            per_page,
        },
    ))
}
