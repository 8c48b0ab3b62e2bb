//! A person in a browser: a cookie jar, HTML forms read with `scraper`, and authorization
//! requests driven through the login and consent pages by hand.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::cookie::{CookieStore, Jar};
use scraper::{Html, Selector};
use sha2::{Digest, Sha256};

use crate::helpers::{
    ALICE, ALICE_PASSWORD, NATIVE, NATIVE_REDIRECT, NOREFRESH, NOREFRESH_REDIRECT, PORTAL,
    PORTAL_REDIRECT, Reply, SPA, SPA_REDIRECT, TestApp, WEB, WEB_REDIRECT, query_of,
};

pub const SESSION_COOKIE: &str = "tessera_session";

/// 256 random bits, base64url.
pub fn random_string() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7636 4.2, computed here rather than by the server's code.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// An authorization request; PKCE S256 is sent whenever `verifier` is set.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub nonce: String,
    pub code_verifier: Option<String>,
    pub extra: Vec<(String, String)>,
}

impl AuthRequest {
    /// A request with fresh state, nonce and PKCE verifier for `client_id` and `redirect_uri`,
    /// asking for every scope.
    pub fn new(client_id: &str, redirect_uri: &str) -> Self {
        Self {
            client_id: client_id.into(),
            redirect_uri: redirect_uri.into(),
            scope: "openid profile email offline_access".into(),
            state: random_string(),
            nonce: random_string(),
            code_verifier: Some(random_string()),
            extra: vec![],
        }
    }

    /// [`AuthRequest::new`] for a fixture client and its registered redirect URI.
    pub fn for_client(client_id: &str) -> Self {
        let redirect = match client_id {
            WEB => WEB_REDIRECT,
            SPA => SPA_REDIRECT,
            PORTAL => PORTAL_REDIRECT,
            NOREFRESH => NOREFRESH_REDIRECT,
            NATIVE => NATIVE_REDIRECT,
            other => panic!("no redirect URI for {other}"),
        };
        Self::new(client_id, redirect)
    }

    pub fn scope(mut self, scope: &str) -> Self {
        self.scope = scope.into();
        self
    }

    pub fn redirect_uri(mut self, uri: &str) -> Self {
        self.redirect_uri = uri.into();
        self
    }

    pub fn without_pkce(mut self) -> Self {
        self.code_verifier = None;
        self
    }

    /// Adds a parameter (sent after the standard ones; may repeat one of them).
    pub fn param(mut self, name: &str, value: &str) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    pub fn verifier(&self) -> Option<&str> {
        self.code_verifier.as_deref()
    }

    pub fn params(&self) -> Vec<(String, String)> {
        let mut p = vec![
            ("response_type".to_string(), "code".to_string()),
            ("client_id".to_string(), self.client_id.clone()),
            ("redirect_uri".to_string(), self.redirect_uri.clone()),
            ("scope".to_string(), self.scope.clone()),
            ("state".to_string(), self.state.clone()),
            ("nonce".to_string(), self.nonce.clone()),
        ];
        if let Some(v) = &self.code_verifier {
            p.push(("code_challenge".into(), s256(v)));
            p.push(("code_challenge_method".into(), "S256".into()));
        }
        p.extend(self.extra.iter().cloned());
        p
    }

    /// The query string of the request.
    pub fn query(&self) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.params() {
            s.append_pair(&k, &v);
        }
        s.finish()
    }

    /// A request without one of its parameters.
    pub fn query_without(&self, name: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self.params().into_iter().filter(|(k, _)| k != name) {
            s.append_pair(&k, &v);
        }
        s.finish()
    }
}

/// An HTML form as a browser would submit it.
#[derive(Debug, Clone)]
pub struct Form {
    pub action: String,
    pub method: String,
    /// Inputs with a name (hidden, text, password), in document order.
    pub fields: Vec<(String, String)>,
    /// Submit buttons: (name, value, text).
    pub buttons: Vec<(String, String, String)>,
}

impl Form {
    /// The first form whose action's path is `action`, if any.
    pub fn try_find(html: &str, action: &str) -> Option<Self> {
        let doc = Html::parse_document(html);
        let forms = Selector::parse("form").expect("selector");
        let inputs = Selector::parse("input[name]").expect("selector");
        let buttons = Selector::parse("button, input[type=submit]").expect("selector");
        doc.select(&forms).find_map(|form| {
            // A search form (method="get") sends a query, not a post.
            if form
                .attr("method")
                .is_some_and(|m| m.eq_ignore_ascii_case("get"))
            {
                return None;
            }
            let raw = form.attr("action").unwrap_or("");
            let path = raw.split('?').next().unwrap_or("");
            let path = path
                .find("://")
                .and_then(|i| path[i + 3..].find('/').map(|j| &path[i + 3 + j..]))
                .unwrap_or(path);
            if path != action {
                return None;
            }
            let fields = form
                .select(&inputs)
                .filter(|i| !matches!(i.attr("type"), Some("submit" | "button" | "image")))
                .map(|i| {
                    (
                        i.attr("name").unwrap_or("").to_string(),
                        i.attr("value").unwrap_or("").to_string(),
                    )
                })
                .collect();
            let buttons = form
                .select(&buttons)
                .map(|b| {
                    (
                        b.attr("name").unwrap_or("").to_string(),
                        b.attr("value").unwrap_or("").to_string(),
                        b.text().collect::<String>().trim().to_string(),
                    )
                })
                .collect();
            Some(Self {
                action: raw.to_string(),
                method: form.attr("method").unwrap_or("get").to_lowercase(),
                fields,
                buttons,
            })
        })
    }

    pub fn find(html: &str, action: &str) -> Self {
        Self::try_find(html, action)
            .unwrap_or_else(|| panic!("no form posting to {action} in:\n{html}"))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Sets a field, replacing its value or adding it.
    pub fn set(mut self, name: &str, value: &str) -> Self {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(field) => field.1 = value.to_string(),
            None => self.fields.push((name.into(), value.into())),
        }
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        self.fields.retain(|(k, _)| k != name);
        self
    }
}

/// A browser: keeps cookies, never follows redirects by itself.
pub struct Browser {
    pub http: reqwest::Client,
    pub jar: Arc<Jar>,
    base: url::Url,
}

impl Browser {
    pub fn new(base: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let http = reqwest::Client::builder()
            .cookie_provider(jar.clone())
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("browser client");
        Self {
            http,
            jar,
            base: url::Url::parse(base).expect("base URL"),
        }
    }

    /// An absolute URL for a path, or the URL itself.
    pub fn resolve(&self, url: &str) -> url::Url {
        self.base.join(url).expect("a URL")
    }

    pub async fn get(&self, url: &str) -> Reply {
        let resp = self.http.get(self.resolve(url)).send().await.expect("GET");
        Reply::read(resp).await
    }

    pub async fn post_form(&self, url: &str, form: &[(String, String)]) -> Reply {
        let resp = self
            .http
            .post(self.resolve(url))
            .form(form)
            .send()
            .await
            .expect("POST");
        Reply::read(resp).await
    }

    /// Submits a form with an extra (button) field.
    pub async fn submit(&self, form: &Form, extra: &[(&str, &str)]) -> Reply {
        let mut fields = form.fields.clone();
        fields.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        self.post_form(&form.action, &fields).await
    }

    /// The CSRF token of the first form on a page.
    pub fn session_csrf(&self, html: &str) -> String {
        let doc = Html::parse_document(html);
        let sel = Selector::parse("input[name=csrf_token]").expect("selector");
        doc.select(&sel)
            .find_map(|e| e.attr("value").map(str::to_string))
            .expect("a CSRF token on the page")
    }

    /// The value of the session cookie the jar would send.
    pub fn session_cookie(&self) -> Option<String> {
        let header = self.jar.cookies(&self.base)?;
        let header = header.to_str().ok()?.to_string();
        header.split("; ").find_map(|pair| {
            pair.strip_prefix(&format!("{SESSION_COOKIE}="))
                .map(str::to_string)
        })
    }

    /// Puts a session cookie value into the jar (e.g. one an attacker planted or stole).
    pub fn set_session_cookie(&self, value: &str) {
        self.jar
            .add_cookie_str(&format!("{SESSION_COOKIE}={value}; Path=/"), &self.base);
    }

    /// The login page (which gives the browser its anonymous cookie) and its form.
    pub async fn login_form(&self) -> (Reply, Form) {
        let page = self.get("/login").await;
        assert_eq!(page.status, 200, "login page: {}", page.body);
        let form = Form::find(&page.body, "/login");
        (page, form)
    }

    /// Signs in through the login form; answers the POST's reply.
    pub async fn sign_in(&self, username: &str, password: &str) -> Reply {
        let (_, form) = self.login_form().await;
        let form = form.set("username", username).set("password", password);
        self.submit(&form, &[]).await
    }

    pub async fn authorize(&self, req: &AuthRequest) -> Reply {
        self.get(&format!("/authorize?{}", req.query())).await
    }

    /// Follows an authorization through login (as alice) and consent (answering `decision`)
    /// until the server sends the browser away from itself; answers that URL.
    pub async fn drive(&self, first: Reply, decision: &str) -> url::Url {
        let mut reply = first;
        for _ in 0..12 {
            if reply.is_redirect() {
                let next = reply.location();
                if next.origin() != self.base.origin() {
                    return next;
                }
                if next.path() == "/login" {
                    let page = self.get(next.as_str()).await;
                    assert_eq!(page.status, 200, "login page: {}", page.body);
                    let form = Form::find(&page.body, "/login")
                        .set("username", ALICE)
                        .set("password", ALICE_PASSWORD);
                    reply = self.submit(&form, &[]).await;
                    assert_eq!(reply.status, 303, "login POST: {}", reply.body);
                    continue;
                }
                reply = self.get(next.as_str()).await;
                continue;
            }
            if reply.status == 200
                && let Some(form) = Form::try_find(&reply.body, "/consent")
            {
                reply = self.submit(&form, &[("decision", decision)]).await;
                assert_eq!(reply.status, 303, "consent POST: {}", reply.body);
                continue;
            }
            panic!(
                "unexpected answer during authorization: {} {}",
                reply.status, reply.body
            );
        }
        panic!("too many steps during authorization");
    }

    /// Runs `req` to its end (alice signs in if needed, consent allowed) and answers the
    /// parameters sent to the redirect URI, asserting that they carry a code.
    pub async fn code_for(&self, app: &TestApp, req: &AuthRequest) -> HashMap<String, String> {
        let first = self.authorize(req).await;
        let callback = self.drive(first, "allow").await;
        assert!(
            callback.as_str().starts_with(&req.redirect_uri),
            "sent to {callback}, expected {}",
            req.redirect_uri
        );
        let params = query_of(&callback);
        assert!(params.contains_key("code"), "no code in {callback}");
        assert_eq!(params.get("state"), Some(&req.state), "state");
        assert_eq!(params.get("iss"), Some(&app.issuer), "iss (RFC 9207)");
        params
    }
}
