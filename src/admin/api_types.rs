//! The JSON bodies of the admin API, with their OpenAPI schemas.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::db::admin::SessionInfo;
use crate::db::audit::AuditRow;
use crate::db::clients::Client;
use crate::db::keys::KeyRow;
use crate::manage::ops::UserView;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientOut {
    pub client_id: String,
    pub name: String,
    /// A public client has no secret and must use PKCE.
    pub public: bool,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    /// People are not asked for consent.
    pub first_party: bool,
    /// How the client's ID and access tokens are signed: RS256, ES256 or EdDSA.
    #[schema(example = "RS256")]
    pub id_token_signed_response_alg: String,
}

impl From<Client> for ClientOut {
    fn from(c: Client) -> Self {
        Self {
            public: c.is_public(),
            client_id: c.id,
            name: c.name,
            redirect_uris: c.redirect_uris,
            post_logout_redirect_uris: c.post_logout_redirect_uris,
            grant_types: c.grant_types,
            scopes: c.scopes,
            first_party: c.first_party,
            id_token_signed_response_alg: c.id_token_signed_response_alg.as_str().into(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewClientIn {
    pub client_id: String,
    pub name: String,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default)]
    pub public: bool,
    /// Default: `authorization_code` and `refresh_token`.
    #[serde(default)]
    pub grant_types: Vec<String>,
    /// Default: `openid profile email offline_access`.
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub first_party: bool,
    /// RS256 (the default), ES256 or EdDSA: how the client's ID and access tokens are signed.
    #[schema(example = "ES256")]
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub client: ClientOut,
    /// The generated secret of a confidential client, shown only in this answer.
    pub client_secret: Option<String>,
}

/// Fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientPatch {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: Option<bool>,
    /// RS256, ES256 or EdDSA.
    #[schema(example = "EdDSA")]
    pub id_token_signed_response_alg: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SecretOut {
    /// The new secret, shown only in this answer; the previous one no longer works.
    pub client_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    pub id: String,
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    pub disabled: bool,
    /// Whether the user must sign in with a second factor.
    pub mfa_required: bool,
    /// Including `admin` for admins.
    pub roles: Vec<String>,
    pub groups: Vec<String>,
    pub created_at: i64,
}

impl From<UserView> for UserOut {
    fn from(v: UserView) -> Self {
        Self {
            id: v.user.id,
            username: v.user.username,
            email: v.user.email,
            name: v.user.name,
            disabled: v.user.disabled,
            mfa_required: v.user.mfa_required,
            roles: v.membership.roles,
            groups: v.membership.groups,
            created_at: v.user.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserIn {
    pub username: String,
    pub email: String,
    pub name: Option<String>,
    /// Left out: a password is generated and answered once.
    pub password: Option<String>,
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserCreated {
    pub user: UserOut,
    /// The generated password, when none was given; shown only in this answer.
    pub password: Option<String>,
}

/// Fields left out keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// A disabled user cannot sign in; their sessions and tokens end.
    pub disabled: Option<bool>,
    /// Every role, replacing the current ones (`admin` grants the console and API).
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    /// Require (or stop requiring) a second factor at sign-in.
    pub mfa_required: Option<bool>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordIn {
    /// Left out: a password is generated and answered once.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PasswordOut {
    /// The generated password, when none was given.
    pub password: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// The public session id (the `sid` of ID tokens).
    pub sid: String,
    pub user_id: String,
    pub username: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

impl From<SessionInfo> for SessionOut {
    fn from(s: SessionInfo) -> Self {
        Self {
            sid: s.session.sid,
            user_id: s.session.user_id,
            username: s.username,
            auth_time: s.session.auth_time,
            amr: s
                .session
                .amr
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            created_at: s.session.created_at,
            expires_at: s.session.expires_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyOut {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    /// From when the key signs (a rotated-in key is published before it signs).
    pub signs_from: i64,
    /// When the key stops (or stopped) signing; it stays published until its tokens expire.
    pub retired_at: Option<i64>,
    /// Seconds since the key was created.
    pub age_seconds: i64,
    /// `signing`, `pre-published`, `active` or `retired`.
    pub state: String,
    /// Whether this key signs new tokens now.
    pub signing: bool,
}

impl KeyOut {
    pub fn list(rows: Vec<KeyRow>, now: i64) -> Vec<KeyOut> {
        let signers = crate::crypto::keys::signing_kids(&rows, now);
        rows.iter()
            .map(|r| {
                let signing = signers.contains(&r.kid);
                KeyOut {
                    state: key_state(r, signing, now).into(),
                    signing,
                    age_seconds: (now - r.created_at).max(0),
                    kid: r.kid.clone(),
                    alg: r.alg.clone(),
                    created_at: r.created_at,
                    signs_from: r.signs_from,
                    retired_at: r.retired_at,
                }
            })
            .collect()
    }
}

/// How a key stands at `now`.
pub fn key_state(row: &KeyRow, signing: bool, now: i64) -> &'static str {
    match (row.is_active(now), signing) {
        (false, _) => "retired",
        (true, true) => "signing",
        (true, false) if row.signs_from > now => "pre-published",
        (true, false) => "active",
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyRotated {
    /// The kid of the first new key (the RS256 one when every algorithm was rotated).
    pub kid: String,
    /// Every new key, one per algorithm rotated.
    pub keys: Vec<NewKey>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewKey {
    pub kid: String,
    /// RS256, ES256 or EdDSA.
    pub alg: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    pub users: i64,
    pub admins: i64,
    pub disabled_users: i64,
    pub clients: i64,
    pub live_sessions: i64,
    pub live_refresh_tokens: i64,
    pub keys: Vec<KeyOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventOut {
    pub id: String,
    /// Unix seconds.
    pub at: i64,
    /// `user:ID`, `client:ID`, `cli` or `anonymous`.
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
}

impl From<AuditRow> for AuditEventOut {
    fn from(r: AuditRow) -> Self {
        Self {
            id: r.id,
            at: r.at,
            actor: r.actor,
            action: r.action,
            target: r.target,
            detail: r.detail,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEventOut>,
    /// How many events match in all.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Text the actor, action, target or detail contains.
    pub q: Option<String>,
    /// From 1 (default 1).
    pub page: Option<u32>,
    /// 1 to 200 (default 50).
    pub per_page: Option<u32>,
}
