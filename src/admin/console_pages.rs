//! One askama struct per console page, the form values they redisplay, and the small
//! formatting helpers (dates, ages) the tables use.

use askama::Template;

use super::paging::Pager;
use crate::db::admin::{Counts, SessionInfo};
use crate::db::audit::AuditRow;
use crate::db::clients::Client;
use crate::db::keys::KeyRow;
use crate::domain::params::Params;
use crate::manage::ops::UserView;

/// `2026-11-30 00:41 UTC`.
pub fn when(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// `45 s`, `12 min`, `5 h`, `3 days`.
pub fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// One row of the key table.
pub struct KeyLine {
    pub kid: String,
    pub state: &'static str,
    pub active: bool,
    pub created: String,
    pub age: String,
}

pub fn key_lines(rows: &[KeyRow], now: i64) -> Vec<KeyLine> {
    let signer = crate::crypto::keys::signer_row(rows, now).map(|r| r.kid.clone());
    let mut lines: Vec<KeyLine> = rows
        .iter()
        .map(|r| KeyLine {
            kid: r.kid.clone(),
            state: super::api_types::key_state(r, signer.as_deref() == Some(r.kid.as_str()), now),
            active: r.is_active(now),
            created: when(r.created_at),
            age: age(now - r.created_at),
        })
        .collect();
    lines.reverse();
    lines
}

#[derive(Template)]
#[template(path = "admin_dashboard.html")]
pub struct DashboardPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub counts: Counts,
    pub keys: Vec<KeyLine>,
    pub with_actions: bool,
}

#[derive(Template)]
#[template(path = "admin_keys.html")]
pub struct KeysPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub keys: Vec<KeyLine>,
    pub with_actions: bool,
}

/// The values of a client form, as typed (redisplayed after an error).
#[derive(Debug, Default, Clone)]
pub struct ClientForm {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub authorization_code: bool,
    pub refresh_token: bool,
    pub client_credentials: bool,
    pub scopes: String,
    pub first_party: bool,
    pub public: bool,
}

impl ClientForm {
    pub fn blank() -> Self {
        Self {
            authorization_code: true,
            refresh_token: true,
            scopes: crate::domain::scope::DEFAULT_CLIENT.join(" "),
            ..Self::default()
        }
    }

    pub fn from_client(c: &Client) -> Self {
        Self {
            client_id: c.id.clone(),
            name: c.name.clone(),
            redirect_uris: c.redirect_uris.join("\n"),
            post_logout_redirect_uris: c.post_logout_redirect_uris.join("\n"),
            authorization_code: c.allows_grant("authorization_code"),
            refresh_token: c.allows_grant("refresh_token"),
            client_credentials: c.allows_grant("client_credentials"),
            scopes: c.scopes.join(" "),
            first_party: c.first_party,
            public: c.is_public(),
        }
    }

    pub fn from_params(p: &Params) -> Self {
        let text = |n: &str| p.get(n).unwrap_or("").to_string();
        let on = |n: &str| p.get(n) == Some("on");
        Self {
            client_id: text("client_id").trim().to_string(),
            name: text("name"),
            redirect_uris: text("redirect_uris"),
            post_logout_redirect_uris: text("post_logout_redirect_uris"),
            authorization_code: on("grant_authorization_code"),
            refresh_token: on("grant_refresh_token"),
            client_credentials: on("grant_client_credentials"),
            scopes: text("scopes"),
            first_party: on("first_party"),
            public: on("public"),
        }
    }

    pub fn grant_types(&self) -> Vec<String> {
        [
            (self.authorization_code, "authorization_code"),
            (self.refresh_token, "refresh_token"),
            (self.client_credentials, "client_credentials"),
        ]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, g)| g.to_string())
        .collect()
    }
}

/// Words of a space- or line-separated field.
pub fn words(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[derive(Template)]
#[template(path = "admin_clients.html")]
pub struct ClientsPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub pager: Pager,
    pub clients: Vec<Client>,
    pub form: ClientForm,
}

#[derive(Template)]
#[template(path = "admin_client.html")]
pub struct ClientPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub client_id: String,
    pub public: bool,
    pub form: ClientForm,
}

/// A secret or password shown once.
#[derive(Template)]
#[template(path = "admin_secret.html")]
pub struct SecretPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub heading: String,
    pub explanation: String,
    pub label: &'static str,
    pub secret: String,
    pub next: String,
}

/// The values of the create-user form (never the password).
#[derive(Debug, Default, Clone)]
pub struct UserForm {
    pub username: String,
    pub email: String,
    pub name: String,
    pub roles: String,
    pub groups: String,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
pub struct UsersPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub pager: Pager,
    pub users: Vec<UserView>,
    pub form: UserForm,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
pub struct UserPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub roles: String,
    pub groups: String,
    pub view: UserView,
}

pub struct SessionLine {
    pub sid: String,
    pub user_id: String,
    pub username: String,
    pub signed_in: String,
    pub expires: String,
    pub amr: String,
}

impl From<SessionInfo> for SessionLine {
    fn from(s: SessionInfo) -> Self {
        Self {
            signed_in: when(s.session.auth_time),
            expires: when(s.session.expires_at),
            amr: s.session.amr.clone(),
            sid: s.session.sid,
            user_id: s.session.user_id,
            username: s.username,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_sessions.html")]
pub struct SessionsPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub pager: Pager,
    pub sessions: Vec<SessionLine>,
}

pub struct AuditLine {
    pub when: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<AuditRow> for AuditLine {
    fn from(r: AuditRow) -> Self {
        Self {
            when: when(r.at),
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
        }
    }
}

#[derive(Template)]
#[template(path = "admin_audit.html")]
pub struct AuditPage {
    pub nav: &'static str,
    pub csrf: String,
    pub admin_name: String,
    pub notice: Option<&'static str>,
    pub error: Option<String>,
    pub pager: Pager,
    pub events: Vec<AuditLine>,
}
