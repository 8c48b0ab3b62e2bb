//! The browser session cookie and the CSRF tokens bound to it.
//!
//! The cookie holds 256 random bits; the database stores only their SHA-256. A visitor who has
//! not signed in gets a cookie too (no row), so that the login form has a CSRF token. Signing
//! in always issues a new cookie value (no session fixation).

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};

use crate::config::Config;
use crate::crypto::random;
use crate::db::sessions::Session;
use crate::db::{self, DbError};
use crate::state::AppState;

pub const COOKIE: &str = "tessera_session";

/// What the request's cookie says about the browser.
pub struct Browser {
    /// The raw cookie value, when the browser sent a well-formed one.
    pub cookie: Option<String>,
    /// The signed-in session it names, if live.
    pub session: Option<Session>,
}

impl Browser {
    /// The CSRF token for forms shown to this browser, if it has a cookie.
    pub fn csrf(&self) -> Option<String> {
        self.cookie.as_deref().map(csrf_token)
    }
}

fn well_formed(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The session cookie's value, when the request carries a well-formed one.
pub fn cookie_value(req: &HttpRequest) -> Option<String> {
    req.cookie(COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| well_formed(v))
}

/// Reads the session cookie and loads the live session it names.
pub async fn load(req: &HttpRequest, state: &AppState, now: i64) -> Result<Browser, DbError> {
    let cookie = cookie_value(req);
    let session = match &cookie {
        Some(value) => {
            let id_hash = random::hash(value);
            state
                .db
                .run(move |conn| {
                    db::sessions::find_live(conn, &id_hash, now).map_err(DbError::from)
                })
                .await?
        }
        None => None,
    };
    Ok(Browser { cookie, session })
}

/// The CSRF token of a cookie value: a domain-separated hash, so it is unguessable without the
/// cookie and differs from the stored session hash.
pub fn csrf_token(cookie_value: &str) -> String {
    random::hash(&format!("tessera-csrf:{cookie_value}"))
}

/// Whether `presented` is the CSRF token bound to the browser's cookie.
pub fn csrf_valid(browser: &Browser, presented: Option<&str>) -> bool {
    match (browser.csrf(), presented) {
        (Some(expected), Some(given)) => random::equal(&expected, given),
        _ => false,
    }
}

/// A session cookie carrying `value`; persistent for `max_age` seconds when given.
pub fn cookie(config: &Config, value: String, max_age: Option<i64>) -> Cookie<'static> {
    let mut c = Cookie::build(COOKIE, value)
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.is_https())
        .finish();
    if let Some(secs) = max_age {
        c.set_max_age(time::Duration::seconds(secs));
    }
    c
}

/// A new anonymous cookie value, for a browser that has none.
pub fn new_anonymous(config: &Config) -> (String, Cookie<'static>) {
    let value = random::token();
    (value.clone(), cookie(config, value, None))
}

/// Deletes the cookie in the browser.
pub fn removal(config: &Config) -> Cookie<'static> {
    let mut c = cookie(config, String::new(), None);
    c.make_removal();
    c
}
