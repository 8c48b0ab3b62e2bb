//! Queries of the admin console and API: listings, counts, and the updates the CLI lacks.

use diesel::prelude::*;

use super::clients::{Client, ClientRow};
use super::schema::{clients, consents, refresh_tokens, sessions, users};
use super::search::{self, Page, Slice};
use super::sessions::Session;
use super::users::User;

/// How many of each thing there are, for the dashboard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub users: i64,
    pub admins: i64,
    pub disabled_users: i64,
    pub clients: i64,
    pub live_sessions: i64,
    pub live_refresh_tokens: i64,
}

pub fn counts(conn: &mut super::Conn, now: i64) -> QueryResult<Counts> {
    Ok(Counts {
        users: users::table.count().get_result(conn)?,
        admins: users::table
            .filter(users::is_admin.eq(true))
            .count()
            .get_result(conn)?,
        disabled_users: users::table
            .filter(users::disabled.eq(true))
            .count()
            .get_result(conn)?,
        clients: clients::table.count().get_result(conn)?,
        live_sessions: sessions::table
            .filter(sessions::expires_at.gt(now))
            .count()
            .get_result(conn)?,
        live_refresh_tokens: refresh_tokens::table
            .filter(refresh_tokens::rotated_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::idle_expires_at.gt(now))
            .count()
            .get_result(conn)?,
    })
}

/// A page of users whose username or email contains the search text, by username.
pub fn users(conn: &mut super::Conn, slice: &Slice) -> QueryResult<Page<User>> {
    let filtered = || {
        let mut q = users::table.into_boxed();
        if let Some(text) = slice.text() {
            let pattern = search::contains(text);
            q = q.filter(
                users::username
                    .like(pattern.clone())
                    .escape('\\')
                    .or(users::email.like(pattern).escape('\\')),
            );
        }
        q
    };
    Ok(Page {
        total: filtered().count().get_result(conn)?,
        rows: filtered()
            .order(users::username.asc())
            .offset(slice.offset)
            .limit(slice.limit)
            .select(User::as_select())
            .load(conn)?,
    })
}

/// A page of clients whose client id or name contains the search text, by client id.
pub fn clients(conn: &mut super::Conn, slice: &Slice) -> QueryResult<Page<Client>> {
    let filtered = || {
        let mut q = clients::table.into_boxed();
        if let Some(text) = slice.text() {
            let pattern = search::contains(text);
            q = q.filter(
                clients::client_id
                    .like(pattern.clone())
                    .escape('\\')
                    .or(clients::name.like(pattern).escape('\\')),
            );
        }
        q
    };
    let rows: Vec<ClientRow> = filtered()
        .order(clients::client_id.asc())
        .offset(slice.offset)
        .limit(slice.limit)
        .select(ClientRow::as_select())
        .load(conn)?;
    Ok(Page {
        total: filtered().count().get_result(conn)?,
        rows: rows.into_iter().map(Client::from).collect(),
    })
}

pub fn update_client(conn: &mut super::Conn, client: &Client) -> QueryResult<usize> {
    let row = ClientRow::from(client);
    diesel::update(clients::table.find(&client.id))
        .set((
            clients::name.eq(row.name),
            clients::secret_hash.eq(row.secret_hash),
            clients::redirect_uris.eq(row.redirect_uris),
            clients::post_logout_redirect_uris.eq(row.post_logout_redirect_uris),
            clients::grant_types.eq(row.grant_types),
            clients::scopes.eq(row.scopes),
            clients::first_party.eq(row.first_party),
        ))
        .execute(conn)
}

/// Deletes a client; its codes, refresh tokens and consents go with it (foreign keys cascade,
/// and are deleted here too for backends without cascading).
pub fn delete_client(conn: &mut super::Conn, client_id: &str) -> QueryResult<usize> {
    diesel::delete(consents::table.filter(consents::client_id.eq(client_id))).execute(conn)?;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::client_id.eq(client_id)))
        .execute(conn)?;
    diesel::delete(
        super::schema::auth_codes::table.filter(super::schema::auth_codes::client_id.eq(client_id)),
    )
    .execute(conn)?;
    diesel::delete(clients::table.find(client_id)).execute(conn)
}

/// Writes a user's profile, admin flag, disabled flag and password hash.
pub fn update_user(conn: &mut super::Conn, user: &User) -> QueryResult<usize> {
    diesel::update(users::table.find(&user.id))
        .set((
            users::email.eq(&user.email),
            users::name.eq(&user.name),
            users::is_admin.eq(user.is_admin),
            users::disabled.eq(user.disabled),
            users::password_hash.eq(&user.password_hash),
            users::mfa_required.eq(user.mfa_required),
        ))
        .execute(conn)
}

/// How many enabled admins there are.
pub fn enabled_admins(conn: &mut super::Conn) -> QueryResult<i64> {
    users::table
        .filter(users::is_admin.eq(true))
        .filter(users::disabled.eq(false))
        .count()
        .get_result(conn)
}

/// A live session with the username it belongs to.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub session: Session,
    pub username: String,
}

/// A page of unexpired sessions whose username contains the search text, newest first.
pub fn live_sessions(
    conn: &mut super::Conn,
    now: i64,
    slice: &Slice,
) -> QueryResult<Page<SessionInfo>> {
    let filtered = || {
        let mut q = sessions::table
            .inner_join(users::table)
            .filter(sessions::expires_at.gt(now))
            .into_boxed();
        if let Some(text) = slice.text() {
            q = q.filter(users::username.like(search::contains(text)).escape('\\'));
        }
        q
    };
    let rows: Vec<(Session, String)> = filtered()
        .order((sessions::created_at.desc(), sessions::sid.asc()))
        .offset(slice.offset)
        .limit(slice.limit)
        .select((Session::as_select(), users::username))
        .load(conn)?;
    Ok(Page {
        total: filtered().count().get_result(conn)?,
        rows: rows
            .into_iter()
            .map(|(session, username)| SessionInfo { session, username })
            .collect(),
    })
}

/// Ends every session of a user (when disabled or their password is reset).
pub fn delete_user_sessions(conn: &mut super::Conn, user_id: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::user_id.eq(user_id))).execute(conn)
}

/// Revokes every live refresh token of a user; answers the access-token ids issued with them.
pub fn revoke_user_refresh_tokens(
    conn: &mut super::Conn,
    user_id: &str,
    now: i64,
) -> QueryResult<Vec<String>> {
    let live = refresh_tokens::table
        .filter(refresh_tokens::user_id.eq(user_id))
        .filter(refresh_tokens::revoked_at.is_null())
        .filter(refresh_tokens::rotated_at.is_null());
    let jtis: Vec<String> = live.select(refresh_tokens::access_jti).load(conn)?;
    diesel::update(live)
        .set(refresh_tokens::revoked_at.eq(now))
        .execute(conn)?;
    Ok(jtis)
}
