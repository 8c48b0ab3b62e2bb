//! The operations of the admin console and API, on top of the CLI's functions in
//! [`crate::manage`]: each runs in one transaction and records one audit event.

use super::{ManageError, NewClient, NewUser};
use crate::audit::{Actor, Auditor, event};
use crate::crypto::random;
use crate::db::clients::Client;
use crate::db::roles::{ADMIN_ROLE, Membership};
use crate::db::search::{Page, Slice};
use crate::db::users::User;
use crate::db::{self, Conn};

/// Who performs an operation and where its audit event goes.
pub struct By<'a> {
    pub actor: &'a Actor,
    pub audit: &'a Auditor,
    pub now: i64,
}

impl By<'_> {
    fn record(
        &self,
        conn: &mut Conn,
        action: &str,
        target: &str,
        detail: &str,
    ) -> Result<(), ManageError> {
        self.audit
            .record(conn, event(self.now, self.actor, action, target, detail))
            .map_err(ManageError::from)
    }
}

/// Changes to a client; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct ClientChanges {
    pub name: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    pub grant_types: Option<Vec<String>>,
    pub scopes: Option<Vec<String>>,
    pub first_party: Option<bool>,
}

/// Changes to a user; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct UserChanges {
    pub disabled: Option<bool>,
    /// Every role the user holds (including `admin`), replacing the current ones.
    pub roles: Option<Vec<String>>,
    pub groups: Option<Vec<String>>,
    /// Whether the user must sign in with a second factor.
    pub mfa_required: Option<bool>,
}

/// A user with what they are a member of.
#[derive(Debug, Clone)]
pub struct UserView {
    pub user: User,
    pub membership: Membership,
}

pub fn create_client(
    conn: &mut Conn,
    by: &By<'_>,
    new: NewClient,
) -> Result<Option<String>, ManageError> {
    db::write_transaction(conn, |conn| {
        let id = new.client_id.trim().to_string();
        let secret = super::create_client(conn, new, by.now)?;
        by.record(conn, "client.created", &id, "")?;
        Ok(secret)
    })
}

pub fn client(conn: &mut Conn, client_id: &str) -> Result<Client, ManageError> {
    db::clients::find(conn, client_id)?
        .ok_or_else(|| ManageError::NotFound(format!("client `{client_id}`")))
}

pub fn update_client(
    conn: &mut Conn,
    by: &By<'_>,
    client_id: &str,
    changes: ClientChanges,
) -> Result<Client, ManageError> {
    db::write_transaction(conn, |conn| {
        let mut c = client(conn, client_id)?;
        if let Some(name) = changes.name {
            let name = name.trim().to_string();
            if name.is_empty() || name.len() > 200 {
                return Err(ManageError::Invalid(
                    "client name must be 1-200 characters".into(),
                ));
            }
            c.name = name;
        }
        let redirect_uris = changes.redirect_uris.unwrap_or(c.redirect_uris);
        let post_logout = changes
            .post_logout_redirect_uris
            .unwrap_or(c.post_logout_redirect_uris);
        let grants = changes.grant_types.unwrap_or(c.grant_types);
        let scopes = changes.scopes.unwrap_or(c.scopes);
        let public = c.secret_hash.is_none();
        let (grant_types, scopes) =
            super::validate_settings(public, grants, &redirect_uris, &post_logout, scopes)?;
        c.redirect_uris = redirect_uris;
        c.post_logout_redirect_uris = post_logout;
        c.grant_types = grant_types;
        c.scopes = scopes;
        if let Some(first_party) = changes.first_party {
            c.first_party = first_party;
        }
        db::admin::update_client(conn, &c)?;
        by.record(conn, "client.updated", &c.id, "")?;
        Ok(c)
    })
}

/// Gives a confidential client a new generated secret (shown once); the old one stops working.
pub fn rotate_client_secret(
    conn: &mut Conn,
    by: &By<'_>,
    client_id: &str,
) -> Result<String, ManageError> {
    db::write_transaction(conn, |conn| {
        let mut c = client(conn, client_id)?;
        if c.is_public() {
            return Err(ManageError::Invalid("a public client has no secret".into()));
        }
        let secret = random::token();
        c.secret_hash = Some(random::hash(&secret));
        db::admin::update_client(conn, &c)?;
        by.record(conn, "client.secret_rotated", &c.id, "")?;
        Ok(secret)
    })
}

/// Deletes a client with its codes, refresh tokens and consents.
pub fn delete_client(conn: &mut Conn, by: &By<'_>, client_id: &str) -> Result<(), ManageError> {
    db::write_transaction(conn, |conn| {
        if db::admin::delete_client(conn, client_id)? == 0 {
            return Err(ManageError::NotFound(format!("client `{client_id}`")));
        }
        by.record(conn, "client.deleted", client_id, "")
    })
}

/// Checks a list of role or group names: 0-50 names of 1-64 letters, digits, `.`, `_`, `-`, `:`.
fn names(what: &str, list: Vec<String>) -> Result<Vec<String>, ManageError> {
    let mut out: Vec<String> = Vec::new();
    for name in list {
        let name = name.trim().to_string();
        let valid = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
        if !valid {
            return Err(ManageError::Invalid(format!(
                "each {what} must be 1-64 characters of letters, digits, '.', '_', '-' or ':'"
            )));
        }
        if !out.contains(&name) {
            out.push(name);
        }
    }
    if out.len() > 50 {
        return Err(ManageError::Invalid(format!("at most 50 {what}s")));
    }
    out.sort();
    Ok(out)
}

pub fn user(conn: &mut Conn, user_id: &str) -> Result<UserView, ManageError> {
    let user = db::users::find(conn, user_id)?
        .ok_or_else(|| ManageError::NotFound(format!("user `{user_id}`")))?;
    let membership = db::roles::of(conn, &user)?;
    Ok(UserView { user, membership })
}

/// A page of users with their roles and groups.
pub fn users(conn: &mut Conn, slice: &Slice) -> Result<Page<UserView>, ManageError> {
    let page = db::admin::users(conn, slice)?;
    let mut rows = Vec::with_capacity(page.rows.len());
    for user in page.rows {
        let membership = db::roles::of(conn, &user)?;
        rows.push(UserView { user, membership });
    }
    Ok(Page {
        rows,
        total: page.total,
    })
}

/// Creates a user with roles and groups.
pub fn create_user(
    conn: &mut Conn,
    by: &By<'_>,
    new: NewUser,
    password_hash: String,
    roles: Vec<String>,
    groups: Vec<String>,
) -> Result<UserView, ManageError> {
    let roles = names("role", roles)?;
    let groups = names("group", groups)?;
    db::write_transaction(conn, |conn| {
        let admin = new.admin || roles.iter().any(|r| r == ADMIN_ROLE);
        let user =
            super::create_user_hashed(conn, NewUser { admin, ..new }, password_hash, by.now)?;
        db::roles::replace(conn, &user.id, &roles, &groups)?;
        by.record(
            conn,
            "user.created",
            &user.id,
            &format!("username {}", user.username),
        )?;
        user_view(conn, user)
    })
}

fn user_view(conn: &mut Conn, user: User) -> Result<UserView, ManageError> {
    let membership = db::roles::of(conn, &user)?;
    Ok(UserView { user, membership })
}

/// Ends a user's sessions and revokes their refresh and access tokens.
fn sign_out_everywhere(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
    access_ttl: i64,
) -> Result<(), ManageError> {
    db::admin::delete_user_sessions(conn, user_id)?;
    for jti in db::admin::revoke_user_refresh_tokens(conn, user_id, now)? {
        db::tokens::revoke_access(conn, &jti, now + access_ttl)?;
    }
    Ok(())
}

/// Enables or disables a user and replaces their roles and groups. Disabling ends their
/// sessions and revokes their tokens. The last enabled admin cannot be disabled or demoted.
pub fn update_user(
    conn: &mut Conn,
    by: &By<'_>,
    user_id: &str,
    changes: UserChanges,
    access_ttl: i64,
) -> Result<UserView, ManageError> {
    let roles = changes.roles.map(|r| names("role", r)).transpose()?;
    let groups = changes.groups.map(|g| names("group", g)).transpose()?;
    db::write_transaction(conn, |conn| {
        let UserView {
            mut user,
            membership,
        } = user(conn, user_id)?;
        let was_admin = user.is_admin && !user.disabled;
        if let Some(d) = changes.disabled {
            user.disabled = d;
        }
        if let Some(m) = changes.mfa_required {
            user.mfa_required = m;
        }
        if let Some(r) = &roles {
            user.is_admin = r.iter().any(|r| r == ADMIN_ROLE);
        }
        if was_admin && (!user.is_admin || user.disabled) && db::admin::enabled_admins(conn)? <= 1 {
            return Err(ManageError::Invalid(
                "this is the last enabled admin: make another admin first".into(),
            ));
        }
        db::admin::update_user(conn, &user)?;
        let roles = roles.unwrap_or(membership.roles);
        let groups = groups.unwrap_or(membership.groups);
        db::roles::replace(conn, &user.id, &roles, &groups)?;
        if user.disabled {
            sign_out_everywhere(conn, &user.id, by.now, access_ttl)?;
        }
        let view = user_view(conn, user)?;
        let detail = format!(
            "{}{}; roles [{}]; groups [{}]",
            if view.user.disabled {
                "disabled"
            } else {
                "enabled"
            },
            if view.user.mfa_required {
                "; second factor required"
            } else {
                ""
            },
            view.membership.roles.join(" "),
            view.membership.groups.join(" ")
        );
        by.record(conn, "user.updated", &view.user.id, &detail)?;
        Ok(view)
    })
}

/// The password an admin sets: the one given (8 to 1024 characters) or, for `None`, a
/// generated one, answered a second time to be shown once.
pub fn choose_password(given: Option<String>) -> Result<(String, Option<String>), ManageError> {
    match given {
        Some(p) if p.chars().count() < 8 || p.len() > 1024 => Err(ManageError::Invalid(
            "password must be 8 to 1024 characters".into(),
        )),
        Some(p) => Ok((p, None)),
        None => {
            let generated = random::token();
            Ok((generated.clone(), Some(generated)))
        }
    }
}

/// Sets a new password hash (of a password from [`choose_password`]), ending the user's
/// sessions and revoking their tokens.
pub fn reset_password(
    conn: &mut Conn,
    by: &By<'_>,
    user_id: &str,
    password_hash: String,
    access_ttl: i64,
) -> Result<(), ManageError> {
    db::write_transaction(conn, |conn| {
        let mut user = user(conn, user_id)?.user;
        user.password_hash = password_hash;
        db::admin::update_user(conn, &user)?;
        sign_out_everywhere(conn, &user.id, by.now, access_ttl)?;
        by.record(conn, "user.password_reset", &user.id, "")
    })
}

/// Removes a user's TOTP key and recovery codes (a lost phone): they sign in with their
/// password alone, or enrol again at sign-in when a second factor is required of them.
pub fn reset_mfa(conn: &mut Conn, by: &By<'_>, user_id: &str) -> Result<(), ManageError> {
    db::write_transaction(conn, |conn| {
        let user = user(conn, user_id)?.user;
        db::mfa::remove_all(conn, &user.id)?;
        by.record(conn, "user.mfa_reset", &user.id, "")
    })
}

/// Ends one browser session by its public id (`sid`).
pub fn end_session(conn: &mut Conn, by: &By<'_>, sid: &str) -> Result<(), ManageError> {
    db::write_transaction(conn, |conn| {
        if db::sessions::delete_by_sid(conn, sid)? == 0 {
            return Err(ManageError::NotFound(format!("session `{sid}`")));
        }
        by.record(conn, "session.ended", sid, "")
    })
}

/// Rotates the signing key (see [`super::rotate_key`]); answers the new kid. The key is
/// generated outside a transaction so that no writer waits for RSA key generation.
pub fn rotate_key(
    conn: &mut Conn,
    by: &By<'_>,
    vault: &crate::crypto::keys::KeyVault,
    prepublish: i64,
) -> Result<String, ManageError> {
    let kid = super::rotate_key(conn, vault, by.now, prepublish)?;
    by.record(conn, "key.rotated", &kid, "")?;
    Ok(kid)
}

pub fn retire_key(conn: &mut Conn, by: &By<'_>, kid: &str) -> Result<(), ManageError> {
    db::write_transaction(conn, |conn| {
        super::retire_key(conn, kid, by.now)?;
        by.record(conn, "key.retired", kid, "")
    })
}
