//! Administrative operations shared by the CLI, the server's first start and the tests:
//! creating users and clients, bootstrapping the admin, and the signing-key lifecycle.
//! [`ops`] adds the audited operations of the admin console and API on top of these.

pub mod ops;

use crate::crypto::{keys, password, random};
use crate::db::clients::Client;
use crate::db::users::User;
use crate::db::{self, Conn, DbError};
use crate::domain::account::{Email, Username};
use crate::domain::{password_policy, redirect, scope::Scopes};

/// Grant types a client may be registered for.
pub const GRANT_TYPES: &[&str] = &["authorization_code", "refresh_token", "client_credentials"];
/// Shortest client secret an admin may supply (256 bits, base64url).
pub const MIN_SECRET_LEN: usize = 43;

#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("cannot hash the password")]
    Hash,
    /// The argon2 queue was full: nothing was done; try again shortly.
    #[error("too many passwords are being hashed right now")]
    Busy,
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error("{0} not found")]
    NotFound(String),
}

impl From<crate::hashing::HashingError> for ManageError {
    fn from(e: crate::hashing::HashingError) -> Self {
        match e {
            crate::hashing::HashingError::Busy => Self::Busy,
            crate::hashing::HashingError::Failed => Self::Hash,
        }
    }
}

impl From<diesel::result::Error> for ManageError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(DbError::Query(e))
    }
}

/// A person to create.
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub admin: bool,
}

/// Validates and stores a user; the password must meet the password policy and is hashed
/// with argon2id on the calling thread (the CLI and tests; the server hashes on its argon2
/// executor and calls [`create_user_hashed`]).
pub fn create_user(conn: &mut Conn, new: NewUser, now: i64) -> Result<User, ManageError> {
    check_new_user(&new)?;
    let hash = password::hash(&new.password).map_err(|_| ManageError::Hash)?;
    create_user_hashed(conn, new, hash, now)
}

/// The checks of a new user that need no database: username, email and password policy.
/// Run before hashing, so that a refused form costs no argon2 time.
pub fn check_new_user(new: &NewUser) -> Result<(), ManageError> {
    let username = Username::parse(&new.username).map_err(|m| ManageError::Invalid(m.into()))?;
    let email = Email::parse(&new.email).map_err(|m| ManageError::Invalid(m.into()))?;
    password_policy::check(&new.password, username.as_str(), email.as_str())
        .map_err(|e| ManageError::Invalid(e.to_string()))
}

/// Stores a user whose password (`new.password`, checked by [`check_new_user`]) was already
/// hashed into `password_hash`.
pub fn create_user_hashed(
    conn: &mut Conn,
    new: NewUser,
    password_hash: String,
    now: i64,
) -> Result<User, ManageError> {
    check_new_user(&new)?;
    let username = Username::parse(&new.username).map_err(|m| ManageError::Invalid(m.into()))?;
    let email = Email::parse(&new.email).map_err(|m| ManageError::Invalid(m.into()))?;
    let (username, email) = (username.as_str(), email.as_str());
    if db::users::username_taken(conn, username)? {
        return Err(ManageError::Exists(format!("user `{username}`")));
    }
    let user = User {
        id: random::id(),
        username: username.to_string(),
        email: email.to_string(),
        email_verified: false,
        name: new.name,
        password_hash,
        is_admin: new.admin,
        disabled: false,
        created_at: now,
        mfa_required: false,
    };
    db::users::insert(conn, &user)?;
    Ok(user)
}

/// Sets whether a person must use a second factor at every sign-in.
pub fn set_mfa_required(
    conn: &mut Conn,
    username: &str,
    required: bool,
) -> Result<(), ManageError> {
    let user = db::users::find_by_username(conn, username)?
        .ok_or_else(|| ManageError::Invalid(format!("no user `{username}`")))?;
    db::users::set_mfa_required(conn, &user.id, required)?;
    Ok(())
}

/// A client to register.
pub struct NewClient {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub public: bool,
    pub grant_types: Vec<String>,
    pub scopes: Vec<String>,
    pub first_party: bool,
    /// A secret chosen by the admin; `None` generates one (confidential clients only).
    pub secret: Option<String>,
}

/// Validates and stores a client; answers the secret (shown once) for confidential clients.
pub fn create_client(
    conn: &mut Conn,
    new: NewClient,
    now: i64,
) -> Result<Option<String>, ManageError> {
    let id = new.client_id.trim();
    if id.is_empty()
        || id.len() > 128
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        return Err(ManageError::Invalid(
            "client id must be 1-128 characters of letters, digits, '.', '_' or '-'".into(),
        ));
    }
    if new.name.trim().is_empty() || new.name.len() > 200 {
        return Err(ManageError::Invalid(
            "client name must be 1-200 characters".into(),
        ));
    }
    let (grant_types, scopes) = validate_settings(
        new.public,
        new.grant_types,
        &new.redirect_uris,
        &new.post_logout_redirect_uris,
        new.scopes,
    )?;
    let secret = match (new.public, new.secret) {
        (true, Some(_)) => {
            return Err(ManageError::Invalid("a public client has no secret".into()));
        }
        (true, None) => None,
        (false, Some(s)) if s.len() < MIN_SECRET_LEN || s.len() > 512 => {
            return Err(ManageError::Invalid(format!(
                "a client secret must be {MIN_SECRET_LEN} to 512 characters (256 bits or more)"
            )));
        }
        (false, Some(s)) => Some(s),
        (false, None) => Some(random::token()),
    };
    if db::clients::find(conn, id)?.is_some() {
        return Err(ManageError::Exists(format!("client `{id}`")));
    }
    let client = Client {
        id: id.to_string(),
        name: new.name.trim().to_string(),
        secret_hash: secret.as_deref().map(random::hash),
        redirect_uris: new.redirect_uris,
        post_logout_redirect_uris: new.post_logout_redirect_uris,
        grant_types,
        scopes,
        first_party: new.first_party,
    };
    db::clients::insert(conn, &client, now)?;
    Ok(secret)
}

/// Checks a client's grant types, redirect URIs and scopes together; empty grant types and
/// scopes become the defaults. Answers the grant types and scopes to store.
pub fn validate_settings(
    public: bool,
    grant_types: Vec<String>,
    redirect_uris: &[String],
    post_logout_redirect_uris: &[String],
    scopes: Vec<String>,
) -> Result<(Vec<String>, Vec<String>), ManageError> {
    let grant_types = if grant_types.is_empty() {
        vec![
            "authorization_code".to_string(),
            "refresh_token".to_string(),
        ]
    } else {
        grant_types
    };
    for g in &grant_types {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(ManageError::Invalid(format!(
                "unknown grant type `{g}` (expected one of {})",
                GRANT_TYPES.join(", ")
            )));
        }
    }
    if public && grant_types.iter().any(|g| g == "client_credentials") {
        return Err(ManageError::Invalid(
            "a public client cannot use client_credentials".into(),
        ));
    }
    let uses_code = grant_types.iter().any(|g| g == "authorization_code");
    if uses_code && redirect_uris.is_empty() {
        return Err(ManageError::Invalid(
            "the authorization_code grant needs at least one --redirect-uri".into(),
        ));
    }
    for uri in redirect_uris.iter().chain(post_logout_redirect_uris) {
        redirect::validate_registered(uri).map_err(ManageError::Invalid)?;
    }
    let scopes = if scopes.is_empty() {
        crate::domain::scope::DEFAULT_CLIENT
            .iter()
            .map(|s| s.to_string())
            .collect()
    } else {
        let parsed = Scopes::parse(&scopes.join(" ")).map_err(ManageError::Invalid)?;
        parsed.iter().map(str::to_string).collect()
    };
    Ok((grant_types, scopes))
}

/// Creates the bootstrap `admin` user when no admin exists. Answers the generated password,
/// if one had to be generated, so the caller can print it once.
pub fn bootstrap_admin(
    conn: &mut Conn,
    configured: Option<&str>,
    now: i64,
) -> Result<Option<String>, ManageError> {
    if db::users::admin_exists(conn)? {
        return Ok(None);
    }
    let generated = configured.is_none().then(random::token);
    let password = configured
        .map(str::to_string)
        .or_else(|| generated.clone())
        .unwrap_or_default();
    let created = create_user(
        conn,
        NewUser {
            username: "admin".into(),
            email: "admin@localhost.localdomain".into(),
            password,
            name: Some("Administrator".into()),
            admin: true,
        },
        now,
    );
    match created {
        Ok(_) => Ok(generated),
        // Another instance starting on the same empty database created it a moment earlier.
        Err(_) if db::users::admin_exists(conn)? => Ok(None),
        Err(e) => Err(e),
    }
}

/// Makes sure an active signing key exists, generating the first one.
pub fn ensure_signing_key(
    conn: &mut Conn,
    vault: &keys::KeyVault,
    now: i64,
) -> Result<bool, ManageError> {
    let rows = db::keys::all(conn)?;
    if rows.iter().any(|r| r.is_active(now)) {
        return Ok(false);
    }
    rotate_key(conn, vault, now, 0)?;
    Ok(true)
}

/// Generates a new signing key, published at once, which signs `prepublish` seconds from now;
/// the keys in force until then retire at that moment (and stay published until the tokens
/// they signed have expired). With no active key, the new one signs at once.
pub fn rotate_key(
    conn: &mut Conn,
    vault: &keys::KeyVault,
    now: i64,
    prepublish: i64,
) -> Result<String, ManageError> {
    let (kid, private_key) = vault.generate()?;
    db::write_transaction(conn, |conn| {
        let any_active = db::keys::all(conn)?.iter().any(|r| r.is_active(now));
        let signs_from = if any_active { now + prepublish } else { now };
        db::keys::insert(
            conn,
            &db::keys::KeyRow {
                kid: kid.clone(),
                alg: "RS256".into(),
                created_at: now,
                retired_at: None,
                private_key,
                signs_from,
            },
        )?;
        db::keys::retire_all_but(conn, &kid, now, signs_from)
    })?;
    Ok(kid)
}

/// Retires one key. The last active key cannot be retired: rotate instead.
pub fn retire_key(conn: &mut Conn, kid: &str, now: i64) -> Result<(), ManageError> {
    let rows = db::keys::all(conn)?;
    let active: Vec<_> = rows.iter().filter(|r| r.is_active(now)).collect();
    match rows.iter().find(|r| r.kid == kid) {
        None => Err(ManageError::Invalid(format!("no key with kid `{kid}`"))),
        Some(r) if !r.is_active(now) => Err(ManageError::Invalid(format!(
            "key `{kid}` is already retired"
        ))),
        Some(_) if active.len() == 1 => Err(ManageError::Invalid(
            "this is the only active key: run `tessera keys rotate` first".into(),
        )),
        Some(_) => {
            db::keys::retire(conn, kid, now)?;
            Ok(())
        }
    }
}
