//! Lifecycle rows of the signing keys (the private keys themselves are PEM files).

use diesel::prelude::*;

use super::schema::signing_keys;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

pub fn all(conn: &mut super::Conn) -> QueryResult<Vec<KeyRow>> {
    signing_keys::table
        .order(signing_keys::created_at.asc())
        .select(KeyRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut super::Conn, kid: &str, now: i64) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(KeyRow {
            kid: kid.to_string(),
            alg: "RS256".into(),
            created_at: now,
            retired_at: None,
        })
        .execute(conn)
        .map(|_| ())
}

/// Marks every active key except `keep` retired at `now`.
pub fn retire_all_but(conn: &mut super::Conn, keep: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.ne(keep))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)
}

/// Marks one active key retired; answers how many rows changed (0: unknown or already retired).
pub fn retire(conn: &mut super::Conn, kid: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(signing_keys::retired_at.is_null()),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)
}
