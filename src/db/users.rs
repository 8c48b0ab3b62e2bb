//! People who sign in.

use diesel::prelude::*;

use super::schema::users;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub name: Option<String>,
    pub password_hash: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: i64,
    /// The person must pass a second factor (TOTP) at every sign-in.
    pub mfa_required: bool,
}

pub fn insert(conn: &mut super::Conn, user: &User) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(|_| ())
}

pub fn find_by_username(conn: &mut super::Conn, username: &str) -> QueryResult<Option<User>> {
    users::table
        .filter(users::username.eq(username))
        .select(User::as_select())
        .get_result(conn)
        .optional()
}

/// A person, and whether the access token id `jti` was revoked, in one query: userinfo's one
/// round trip. `None`: no such person.
pub fn find_with_revocation(
    conn: &mut super::Conn,
    id: &str,
    jti: &str,
) -> QueryResult<Option<(User, bool)>> {
    super::on_backend!(conn, c => {
        users::table
            .find(id)
            .select((User::as_select(), super::tokens::access_revoked(jti)))
            .get_result(c)
            .optional()
    })
}

pub fn find(conn: &mut super::Conn, id: &str) -> QueryResult<Option<User>> {
    super::on_backend!(conn, c => {
        users::table
            .find(id)
            .select(User::as_select())
            .get_result(c)
            .optional()
    })
}

pub fn admin_exists(conn: &mut super::Conn) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::is_admin.eq(true)),
    ))
    .get_result(conn)
}

/// Whether a user with this username exists (usernames compare exactly, as at sign-in).
pub fn username_taken(conn: &mut super::Conn, username: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        users::table.filter(users::username.eq(username)),
    ))
    .get_result(conn)
}

pub fn set_password_hash(conn: &mut super::Conn, id: &str, hash: &str) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
}

/// Replaces the password hash of `id` if it is still `old`: a sign-in's rehash never undoes
/// a password change made meanwhile. Answers how many rows changed.
pub fn replace_password_hash(
    conn: &mut super::Conn,
    id: &str,
    old: &str,
    new: &str,
) -> QueryResult<usize> {
    diesel::update(users::table.find(id).filter(users::password_hash.eq(old)))
        .set(users::password_hash.eq(new))
        .execute(conn)
}

pub fn set_mfa_required(conn: &mut super::Conn, id: &str, required: bool) -> QueryResult<usize> {
    diesel::update(users::table.find(id))
        .set(users::mfa_required.eq(required))
        .execute(conn)
}
