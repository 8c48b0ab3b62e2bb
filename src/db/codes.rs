//! Authorization codes: stored hashed, single use, bound to what was authorized.

use diesel::prelude::*;

use super::schema::auth_codes;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = auth_codes)]
pub struct AuthCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub sid: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub auth_time: i64,
    pub amr: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
    /// The `jti` of the access token issued from this code, for revocation on replay.
    pub access_jti: Option<String>,
    /// The refresh-token family issued from this code, for revocation on replay.
    pub refresh_family: Option<String>,
}

pub fn insert(conn: &mut super::Conn, code: &AuthCode) -> QueryResult<()> {
    diesel::insert_into(auth_codes::table)
        .values(code)
        .execute(conn)
        .map(|_| ())
}

pub fn find(conn: &mut super::Conn, code_hash: &str) -> QueryResult<Option<AuthCode>> {
    auth_codes::table
        .find(code_hash)
        .select(AuthCode::as_select())
        .get_result(conn)
        .optional()
}

/// Marks the code consumed if nobody did before; answers whether this caller won.
pub fn consume(conn: &mut super::Conn, code_hash: &str, now: i64) -> QueryResult<bool> {
    diesel::update(
        auth_codes::table
            .filter(auth_codes::code_hash.eq(code_hash))
            .filter(auth_codes::consumed_at.is_null()),
    )
    .set(auth_codes::consumed_at.eq(now))
    .execute(conn)
    .map(|n| n == 1)
}

/// Records what was issued from the code.
pub fn record_issued(
    conn: &mut super::Conn,
    code_hash: &str,
    access_jti: &str,
    refresh_family: Option<&str>,
) -> QueryResult<()> {
    diesel::update(auth_codes::table.find(code_hash))
        .set((
            auth_codes::access_jti.eq(access_jti),
            auth_codes::refresh_family.eq(refresh_family),
        ))
        .execute(conn)
        .map(|_| ())
}
