//! One askama struct per page, and the helper that turns a page into an HTML answer.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, HttpResponseBuilder};
use askama::Template;

/// Route paths of the pages, used by handlers and templates alike.
pub mod paths {
    pub const LOGIN: &str = "/login";
    pub const CONSENT: &str = "/consent";
    pub const LOGOUT: &str = "/logout";
    pub const STYLESHEET: &str = "/static/tessera.css";
    pub const MFA: &str = "/mfa";
    pub const ACCOUNT: &str = "/account";
    pub const REGISTER: &str = "/register";
}

/// Renders `page` with `status`; a rendering failure becomes a plain 500 without details.
pub fn html<T: Template>(status: StatusCode, page: &T) -> HttpResponse {
    render_into(HttpResponse::build(status), page)
}

/// Renders `page` into a response that already carries headers (cookies).
pub fn render_into<T: Template>(mut builder: HttpResponseBuilder, page: &T) -> HttpResponse {
    match page.render() {
        Ok(body) => builder
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(e) => {
            tracing::error!(error = %e, "A page could not be rendered.");
            HttpResponse::InternalServerError()
                .content_type("text/plain; charset=utf-8")
                .body("Something went wrong on our side.")
        }
    }
}

/// An error shown to a person.
pub fn error_page(status: StatusCode, title: &str, message: &str) -> HttpResponse {
    html(status, &ErrorPage { title, message })
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

#[derive(Template)]
#[template(path = "login.html")]
pub struct LoginPage<'a> {
    pub error: Option<&'a str>,
    pub username: &'a str,
    pub csrf: &'a str,
    pub return_to: &'a str,
    /// Whether to offer `/register`.
    pub registration_open: bool,
}

/// One scope as a person reads it on the consent page.
pub struct ScopeLine {
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Template)]
#[template(path = "consent.html")]
pub struct ConsentPage<'a> {
    pub client_name: &'a str,
    pub username: &'a str,
    pub scopes: Vec<ScopeLine>,
    pub fields: Vec<(String, String)>,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "logout.html")]
pub struct LogoutPage<'a> {
    pub client_name: Option<&'a str>,
    pub fields: Vec<(String, String)>,
    pub csrf: &'a str,
}

#[derive(Template)]
#[template(path = "signed_out.html")]
pub struct SignedOutPage;

#[derive(Template)]
#[template(path = "home.html")]
pub struct HomePage<'a> {
    pub username: Option<&'a str>,
    pub csrf: &'a str,
}

/// How the consent page explains each scope.
pub fn describe_scope(scope: &str) -> ScopeLine {
    let (name, description) = match scope {
        "openid" => (
            "Sign you in",
            "Confirm who you are with your Tessera account.",
        ),
        "profile" => ("Your profile", "Your name and username."),
        "email" => ("Your email address", "The email address on your account."),
        "offline_access" => (
            "Stay signed in",
            "Keep access while you are away, until you revoke it.",
        ),
        _ => ("Other access", "Access the application asked for by name."),
    };
    ScopeLine { name, description }
}
