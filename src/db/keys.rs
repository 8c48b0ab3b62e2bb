//! Lifecycle rows of the signing keys, and (when keys are kept in the database) the sealed
//! private keys themselves.
//!
//! A key signs from `signs_from` until `retired_at` (which a rotation may set in the future:
//! the old key keeps signing while the new one is pre-published), and stays published until
//! the tokens it signed have expired.

use diesel::prelude::*;

use super::schema::signing_keys;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = signing_keys)]
pub struct KeyRow {
    pub kid: String,
    pub alg: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
    /// The private key sealed with AES-256-GCM, or `None` when it is a PEM file.
    pub private_key: Option<String>,
    /// From when this key may sign (it is published in the JWKS from `created_at`).
    pub signs_from: i64,
}

impl KeyRow {
    /// Not retired at `now` (a retirement may be scheduled for later).
    pub fn is_active(&self, now: i64) -> bool {
        self.retired_at.is_none_or(|at| at > now)
    }
}

/// Every key, oldest first; keys created in the same second are ordered by when they sign.
pub fn all(conn: &mut super::Conn) -> QueryResult<Vec<KeyRow>> {
    signing_keys::table
        .order(signing_keys::created_at.asc())
        .then_order_by(signing_keys::signs_from.asc())
        .then_order_by(signing_keys::kid.asc())
        .select(KeyRow::as_select())
        .load(conn)
}

pub fn insert(conn: &mut super::Conn, row: &KeyRow) -> QueryResult<()> {
    diesel::insert_into(signing_keys::table)
        .values(row)
        .execute(conn)
        .map(|_| ())
}

/// Schedules every key of algorithm `alg` except `keep` that is still active at `now` to
/// retire at `at`.
pub fn retire_all_but(
    conn: &mut super::Conn,
    keep: &str,
    alg: &str,
    now: i64,
    at: i64,
) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.ne(keep))
            .filter(signing_keys::alg.eq(alg))
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(now)),
            ),
    )
    .set(signing_keys::retired_at.eq(at))
    .execute(conn)
}

/// Retires one active key at `now`; answers how many rows changed (0: unknown or retired).
pub fn retire(conn: &mut super::Conn, kid: &str, now: i64) -> QueryResult<usize> {
    diesel::update(
        signing_keys::table
            .filter(signing_keys::kid.eq(kid))
            .filter(
                signing_keys::retired_at
                    .is_null()
                    .or(signing_keys::retired_at.gt(now)),
            ),
    )
    .set(signing_keys::retired_at.eq(now))
    .execute(conn)
}
