//! Browser SSO sessions, keyed by the hash of the cookie value.

use diesel::prelude::*;

use super::schema::{sessions, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sessions)]
pub struct Session {
    pub id_hash: String,
    /// The public session id carried in ID tokens (`sid`).
    pub sid: String,
    pub user_id: String,
    pub auth_time: i64,
    /// Space-separated authentication methods (`pwd`, later `otp`).
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert(conn: &mut super::Conn, session: &Session) -> QueryResult<()> {
    diesel::insert_into(sessions::table)
        .values(session)
        .execute(conn)
        .map(|_| ())
}

/// The unexpired session with this id hash whose user is still enabled.
pub fn find_live(conn: &mut super::Conn, id_hash: &str, now: i64) -> QueryResult<Option<Session>> {
    sessions::table
        .inner_join(users::table)
        .filter(sessions::id_hash.eq(id_hash))
        .filter(sessions::expires_at.gt(now))
        .filter(users::disabled.eq(false))
        .select(Session::as_select())
        .get_result(conn)
        .optional()
}

pub fn delete(conn: &mut super::Conn, id_hash: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.find(id_hash)).execute(conn)
}

pub fn delete_by_sid(conn: &mut super::Conn, sid: &str) -> QueryResult<usize> {
    diesel::delete(sessions::table.filter(sessions::sid.eq(sid))).execute(conn)
}

/// The person's unexpired sessions, newest first.
pub fn list_for_user(conn: &mut super::Conn, user_id: &str, now: i64) -> QueryResult<Vec<Session>> {
    sessions::table
        .filter(sessions::user_id.eq(user_id))
        .filter(sessions::expires_at.gt(now))
        .order(sessions::created_at.desc())
        .select(Session::as_select())
        .load(conn)
}

/// Ends one session of this person by its public `sid`; answers how many ended.
pub fn delete_for_user(conn: &mut super::Conn, user_id: &str, sid: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.eq(sid)),
    )
    .execute(conn)
}

/// Ends every session of this person but the one with `keep_sid`.
pub fn delete_others(conn: &mut super::Conn, user_id: &str, keep_sid: &str) -> QueryResult<usize> {
    diesel::delete(
        sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::sid.ne(keep_sid)),
    )
    .execute(conn)
}
