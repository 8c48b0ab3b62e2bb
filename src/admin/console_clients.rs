//! Console pages for clients: list and register, edit, rotate the secret, delete.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::auth::AdminSession;
use super::console::{act, failure, form, form_error, notice, page, see_other};
use super::console_pages::*;
use super::paging::{Pager, console_slice};
use super::run_op;
use crate::db::{self, DbError};
use crate::manage::ops::{self, ClientChanges};
use crate::manage::{ManageError, NewClient};
use crate::state::AppState;
use crate::web::pages;

async fn clients_page(
    admin: AdminSession,
    state: &AppState,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<String>,
    form: ClientForm,
    query_string: &str,
) -> HttpResponse {
    let (slice, page_no) = console_slice(query_string);
    let asked = slice.clone();
    match state
        .db
        .run(move |conn| db::admin::clients(conn, &asked).map_err(DbError::from))
        .await
    {
        Ok(clients) => page(
            status,
            &ClientsPage {
                nav: "clients",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice,
                error,
                pager: Pager::new("/admin/clients", &slice, page_no, clients.total),
                clients: clients.rows,
                form,
            },
        ),
        Err(e) => crate::web::unavailable(e),
    }
}

pub async fn clients(
    admin: AdminSession,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> HttpResponse {
    clients_page(
        admin,
        &state,
        StatusCode::OK,
        notice(&req),
        None,
        ClientForm::blank(),
        req.query_string(),
    )
    .await
}

pub async fn create_client(
    admin: AdminSession,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let f = ClientForm::from_params(&params);
    let alg = match f.signing_alg() {
        Ok(alg) => alg.unwrap_or_default(),
        Err(message) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return clients_page(admin, &state, status, None, Some(message), f, "").await;
        }
    };
    let new = NewClient {
        client_id: f.client_id.clone(),
        name: f.name.clone(),
        redirect_uris: words(&f.redirect_uris),
        post_logout_redirect_uris: words(&f.post_logout_redirect_uris),
        public: f.public,
        grant_types: f.grant_types(),
        scopes: words(&f.scopes),
        first_party: f.first_party,
        secret: None,
        id_token_signed_response_alg: alg,
    };
    match run_op(&state, admin.actor(), move |conn, by| {
        ops::create_client(conn, by, new)
    })
    .await
    {
        Ok(Some(secret)) => page(
            StatusCode::CREATED,
            &SecretPage {
                nav: "clients",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice: None,
                error: None,
                heading: format!("Client {} registered", f.client_id),
                explanation: "The application authenticates with this client secret.".into(),
                label: "Client secret",
                secret,
                next: format!("/admin/clients/{}", f.client_id),
            },
        ),
        Ok(None) => see_other(format!("/admin/clients/{}?notice=created", f.client_id)),
        Err(e) => match form_error(e) {
            Ok(message) => {
                clients_page(
                    admin,
                    &state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some(message),
                    f,
                    "",
                )
                .await
            }
            Err(res) => res,
        },
    }
}

pub async fn client_page(
    admin: AdminSession,
    state: &AppState,
    id: String,
    status: StatusCode,
    notice: Option<&'static str>,
    error: Option<(String, ClientForm)>,
) -> HttpResponse {
    match state.db.run(move |conn| ops::client(conn, &id)).await {
        Ok(c) => {
            let (error, form) = match error {
                Some((message, form)) => (Some(message), form),
                None => (None, ClientForm::from_client(&c)),
            };
            page(
                status,
                &ClientPage {
                    nav: "clients",
                    csrf: admin.csrf,
                    admin_name: admin.user.username,
                    notice,
                    error,
                    public: c.is_public(),
                    client_id: c.id,
                    form,
                },
            )
        }
        Err(e) => failure(e),
    }
}

pub async fn client(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    req: HttpRequest,
) -> HttpResponse {
    client_page(
        admin,
        &state,
        path.into_inner(),
        StatusCode::OK,
        notice(&req),
        None,
    )
    .await
}

pub async fn update_client(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let params = match form(&admin, &body) {
        Ok(p) => p,
        Err(res) => return res,
    };
    let id = path.into_inner();
    let f = ClientForm::from_params(&params);
    let alg = match f.signing_alg() {
        Ok(alg) => alg,
        Err(message) => {
            let status = StatusCode::UNPROCESSABLE_ENTITY;
            return client_page(admin, &state, id, status, None, Some((message, f))).await;
        }
    };
    let changes = ClientChanges {
        name: Some(f.name.clone()),
        redirect_uris: Some(words(&f.redirect_uris)),
        post_logout_redirect_uris: Some(words(&f.post_logout_redirect_uris)),
        grant_types: Some(f.grant_types()),
        scopes: Some(words(&f.scopes)),
        first_party: Some(f.first_party),
        id_token_signed_response_alg: alg,
    };
    let target = id.clone();
    match run_op(&state, admin.actor(), move |conn, by| {
        ops::update_client(conn, by, &target, changes)
    })
    .await
    {
        Ok(_) => see_other(format!("/admin/clients/{id}?notice=saved")),
        Err(e) => match form_error(e) {
            Ok(message) => {
                client_page(
                    admin,
                    &state,
                    id,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                    Some((message, f)),
                )
                .await
            }
            Err(res) => res,
        },
    }
}

pub async fn rotate_secret(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Err(res) = form(&admin, &body) {
        return res;
    }
    let id = path.into_inner();
    let target = id.clone();
    match run_op(&state, admin.actor(), move |conn, by| {
        ops::rotate_client_secret(conn, by, &target)
    })
    .await
    {
        Ok(secret) => page(
            StatusCode::OK,
            &SecretPage {
                nav: "clients",
                csrf: admin.csrf,
                admin_name: admin.user.username,
                notice: None,
                error: None,
                heading: format!("New secret for {id}"),
                explanation: "The previous secret no longer works.".into(),
                label: "Client secret",
                secret,
                next: format!("/admin/clients/{id}"),
            },
        ),
        Err(ManageError::Invalid(m)) => {
            pages::error_page(StatusCode::UNPROCESSABLE_ENTITY, "Cannot rotate", &m)
        }
        Err(e) => failure(e),
    }
}

pub async fn delete_client(
    admin: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let done = "/admin/clients?notice=deleted".to_string();
    act(admin, &state, &body, done, move |conn, by| {
        ops::delete_client(conn, by, &id)
    })
    .await
}
