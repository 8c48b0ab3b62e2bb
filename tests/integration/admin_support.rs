//! What the admin tests share: admin tokens (a client-credentials client and an admin person),
//! JSON calls to the admin API, and a browser signed in to the console.

use serde_json::Value;
use tessera::manage::NewClient;

use crate::browser::{AuthRequest, Browser, Form};
use crate::helpers::{ADMIN_PASSWORD, ClientAuth, Reply, TestApp, str_field};

/// A backend allowed the admin API scope.
pub const AUTOMATION: &str = "automation";
/// A first-party web app that may ask for `roles` and `tessera:admin` for people.
pub const TOOL: &str = "admin-tool";
pub const TOOL_REDIRECT: &str = "https://tool.example/cb";

/// Every route of the admin API (besides the OpenAPI document itself).
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/admin/api/v1/dashboard"),
    ("get", "/admin/api/v1/clients"),
    ("post", "/admin/api/v1/clients"),
    ("get", "/admin/api/v1/clients/{client_id}"),
    ("patch", "/admin/api/v1/clients/{client_id}"),
    ("delete", "/admin/api/v1/clients/{client_id}"),
    ("post", "/admin/api/v1/clients/{client_id}/secret"),
    ("get", "/admin/api/v1/users"),
    ("post", "/admin/api/v1/users"),
    ("get", "/admin/api/v1/users/{user_id}"),
    ("patch", "/admin/api/v1/users/{user_id}"),
    ("post", "/admin/api/v1/users/{user_id}/password"),
    ("post", "/admin/api/v1/users/{user_id}/mfa/reset"),
    ("get", "/admin/api/v1/sessions"),
    ("delete", "/admin/api/v1/sessions/{sid}"),
    ("get", "/admin/api/v1/keys"),
    ("post", "/admin/api/v1/keys"),
    ("post", "/admin/api/v1/keys/{kid}/retire"),
    ("get", "/admin/api/v1/audit"),
];

/// Registers a client directly in the database; answers its secret, if confidential.
pub fn register(app: &TestApp, client: NewClient) -> Option<String> {
    let mut conn = app.db.conn().expect("db connection");
    tessera::manage::create_client(&mut conn, client, tessera::clock::now()).expect("client")
}

pub fn client(id: &str, redirect: &[&str], grants: &[&str], scopes: &[&str]) -> NewClient {
    NewClient {
        client_id: id.into(),
        name: format!("The {id} app"),
        redirect_uris: redirect.iter().map(|s| s.to_string()).collect(),
        post_logout_redirect_uris: vec![],
        public: false,
        grant_types: grants.iter().map(|s| s.to_string()).collect(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        first_party: true,
        secret: None,
        id_token_signed_response_alg: Default::default(),
    }
}

/// A client-credentials token with the `tessera:admin` scope.
pub async fn service_token(app: &TestApp) -> String {
    let secret = register(
        app,
        client(AUTOMATION, &[], &["client_credentials"], &["tessera:admin"]),
    )
    .expect("secret");
    let reply = app
        .token(
            ClientAuth::Basic(AUTOMATION, &secret),
            &[
                ("grant_type", "client_credentials"),
                ("scope", "tessera:admin"),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "client credentials: {}", reply.body);
    str_field(&reply.json(), "access_token")
}

/// Registers the first-party tool client; answers its secret.
pub fn register_tool(app: &TestApp) -> String {
    register(
        app,
        client(
            TOOL,
            &[TOOL_REDIRECT],
            &["authorization_code"],
            &["openid", "profile", "email", "roles", "tessera:admin"],
        ),
    )
    .expect("secret")
}

/// A code flow with the tool client for `username`, answering the token response.
pub async fn person_tokens(
    app: &TestApp,
    secret: &str,
    username: &str,
    password: &str,
    scope: &str,
) -> Value {
    let browser = app.browser();
    let signed_in = browser.sign_in(username, password).await;
    assert_eq!(
        signed_in.status, 303,
        "sign-in of {username}: {}",
        signed_in.body
    );
    let req = AuthRequest::new(TOOL, TOOL_REDIRECT).scope(scope);
    app.redeemed(&browser, &req, ClientAuth::Basic(TOOL, secret))
        .await
}

/// The bootstrap admin's access token with `tessera:admin`.
pub async fn admin_person_token(app: &TestApp) -> String {
    let secret = register_tool(app);
    let tokens = person_tokens(
        app,
        &secret,
        "admin",
        ADMIN_PASSWORD,
        "openid tessera:admin",
    )
    .await;
    str_field(&tokens, "access_token")
}

/// Calls the admin API: `token` as a bearer token when given, `body` as JSON when given.
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Reply {
    let url = app.url(path);
    let mut req = match method {
        "get" => app.api.get(url),
        "post" => app.api.post(url),
        "patch" => app.api.patch(url),
        "delete" => app.api.delete(url),
        other => panic!("no method {other}"),
    };
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    Reply::read(req.send().await.expect("admin API call")).await
}

/// Asserts an RFC 9457 problem with `status`.
pub fn assert_problem(reply: &Reply, status: u16, what: &str) {
    assert_eq!(reply.status, status, "{what}: {}", reply.body);
    assert_eq!(
        reply.header("content-type"),
        Some("application/problem+json"),
        "{what}: content type"
    );
    let body = reply.json();
    assert_eq!(body["status"], status, "{what}: status member");
    assert!(
        body["title"].is_string() && body["detail"].is_string(),
        "{what}: {body}"
    );
}

/// A browser signed in as the bootstrap admin.
pub async fn admin_browser(app: &TestApp) -> Browser {
    let browser = app.browser();
    let reply = browser.sign_in("admin", ADMIN_PASSWORD).await;
    assert_eq!(reply.status, 303, "admin sign-in: {}", reply.body);
    browser
}

/// The form posting to `action`, as a browser would send it: unchecked checkboxes left out.
pub fn console_form(html: &str, action: &str) -> Form {
    let mut form = Form::find(html, action);
    let doc = scraper::Html::parse_document(html);
    let sel = scraper::Selector::parse("input[type=checkbox]").expect("selector");
    for input in doc.select(&sel) {
        if input.attr("checked").is_none()
            && let Some(name) = input.attr("name")
        {
            form = form.without(name);
        }
    }
    form
}

/// Submits the console form posting to `action` found on `page`, with `changes` applied;
/// a checkbox is ticked with the value `on` and cleared with `off`.
pub async fn submit_on(
    browser: &Browser,
    page: &str,
    action: &str,
    changes: &[(&str, &str)],
) -> Reply {
    let html = browser.get(page).await;
    assert_eq!(html.status, 200, "{page}: {}", html.body);
    let mut form = console_form(&html.body, action);
    for (k, v) in changes {
        form = if *v == "off" {
            form.without(k)
        } else {
            form.set(k, v)
        };
    }
    browser.submit(&form, &[]).await
}
