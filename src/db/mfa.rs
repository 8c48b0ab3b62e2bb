//! Second factors: each person's TOTP secret (with the last time step accepted, against replay),
//! their hashed one-time recovery codes, and sign-ins waiting for the second factor.

use diesel::prelude::*;

use super::schema::{mfa_pending, recovery_codes, totp_credentials};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = totp_credentials)]
pub struct TotpCredential {
    pub user_id: String,
    /// The shared secret, base32 (RFC 4648), as authenticator apps take it.
    pub secret: String,
    /// False while the person has not yet proved with a first code that their app has it.
    pub confirmed: bool,
    /// The last TOTP time step accepted; only a later step is accepted next.
    pub last_step: i64,
    pub created_at: i64,
}

pub fn credential(conn: &mut super::Conn, user_id: &str) -> QueryResult<Option<TotpCredential>> {
    totp_credentials::table
        .find(user_id)
        .select(TotpCredential::as_select())
        .get_result(conn)
        .optional()
}

/// Stores a new, unconfirmed secret for the user, replacing any previous one (callers run it
/// in a transaction).
pub fn put_unconfirmed(
    conn: &mut super::Conn,
    user_id: &str,
    secret: &str,
    now: i64,
) -> QueryResult<()> {
    let row = TotpCredential {
        user_id: user_id.into(),
        secret: secret.into(),
        confirmed: false,
        last_step: 0,
        created_at: now,
    };
    diesel::delete(totp_credentials::table.find(user_id)).execute(conn)?;
    diesel::insert_into(totp_credentials::table)
        .values(&row)
        .execute(conn)
        .map(|_| ())
}

/// Records `step` as used if it is later than the last one used (and marks the secret
/// confirmed); answers whether this caller won, so a code is accepted at most once.
pub fn take_step(conn: &mut super::Conn, user_id: &str, step: i64) -> QueryResult<bool> {
    let n = diesel::update(
        totp_credentials::table
            .filter(totp_credentials::user_id.eq(user_id))
            .filter(totp_credentials::last_step.lt(step)),
    )
    .set((
        totp_credentials::last_step.eq(step),
        totp_credentials::confirmed.eq(true),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Removes the user's TOTP secret and recovery codes.
pub fn remove_all(conn: &mut super::Conn, user_id: &str) -> QueryResult<()> {
    diesel::delete(totp_credentials::table.find(user_id)).execute(conn)?;
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    Ok(())
}

/// Replaces the user's recovery codes with these hashes.
pub fn replace_recovery_codes(
    conn: &mut super::Conn,
    user_id: &str,
    hashes: &[String],
    now: i64,
) -> QueryResult<()> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)?;
    for hash in hashes {
        diesel::insert_into(recovery_codes::table)
            .values((
                recovery_codes::code_hash.eq(hash),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Marks an unused recovery code of the user as used; answers whether there was one.
pub fn use_recovery_code(
    conn: &mut super::Conn,
    user_id: &str,
    code_hash: &str,
    now: i64,
) -> QueryResult<bool> {
    let n = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::code_hash.eq(code_hash))
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn unused_recovery_codes(conn: &mut super::Conn, user_id: &str) -> QueryResult<i64> {
    recovery_codes::table
        .filter(recovery_codes::user_id.eq(user_id))
        .filter(recovery_codes::used_at.is_null())
        .count()
        .get_result(conn)
}

/// A sign-in that passed the password and waits for the second factor, keyed by the hash of
/// the browser's cookie value.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = mfa_pending)]
pub struct Pending {
    pub id_hash: String,
    pub user_id: String,
    pub return_to: String,
    pub created_at: i64,
    pub expires_at: i64,
}

pub fn insert_pending(conn: &mut super::Conn, pending: &Pending) -> QueryResult<()> {
    diesel::insert_into(mfa_pending::table)
        .values(pending)
        .execute(conn)
        .map(|_| ())
}

pub fn find_pending(
    conn: &mut super::Conn,
    id_hash: &str,
    now: i64,
) -> QueryResult<Option<Pending>> {
    mfa_pending::table
        .find(id_hash)
        .filter(mfa_pending::expires_at.gt(now))
        .select(Pending::as_select())
        .get_result(conn)
        .optional()
}

/// Deletes this pending sign-in and any that have expired.
pub fn delete_pending(conn: &mut super::Conn, id_hash: &str, now: i64) -> QueryResult<()> {
    diesel::delete(
        mfa_pending::table.filter(
            mfa_pending::id_hash
                .eq(id_hash)
                .or(mfa_pending::expires_at.le(now)),
        ),
    )
    .execute(conn)
    .map(|_| ())
}
