//! Deleting rows that can no longer matter, in bounded batches so that a large backlog never
//! holds a long lock: each batch reads at most `batch` keys, then deletes those rows.

use diesel::prelude::*;

use super::schema::{auth_codes, login_throttle, refresh_tokens, revoked_access_tokens, sessions};

/// A used or expired code is kept this long after expiry, so that a late replay still revokes
/// what the code produced.
pub const CODE_GRACE: i64 = 60 * 60;
/// A revoked or idle-expired refresh token is kept this long, then forgotten.
pub const REFRESH_GRACE: i64 = 24 * 60 * 60;

/// Authorization codes expired more than [`CODE_GRACE`] ago.
pub fn codes(conn: &mut super::Conn, now: i64, batch: i64) -> QueryResult<usize> {
    let doomed = auth_codes::table
        .filter(auth_codes::expires_at.le(now - CODE_GRACE))
        .select(auth_codes::code_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(auth_codes::table.filter(auth_codes::code_hash.eq_any(&doomed))).execute(conn)
}

/// Refresh tokens that can never be used or matter again: their family passed its absolute
/// lifetime, or they were revoked, or (the newest of a family) idle-expired, more than
/// [`REFRESH_GRACE`] ago. Rotated tokens of a live family stay: their reuse must still revoke it.
pub fn refresh_tokens(conn: &mut super::Conn, now: i64, batch: i64) -> QueryResult<usize> {
    let old = now - REFRESH_GRACE;
    let doomed = refresh_tokens::table
        .filter(
            refresh_tokens::family_expires_at
                .le(now)
                .or(refresh_tokens::revoked_at.le(old))
                .or(refresh_tokens::rotated_at
                    .is_null()
                    .and(refresh_tokens::idle_expires_at.le(old))),
        )
        .select(refresh_tokens::token_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::token_hash.eq_any(&doomed)))
        .execute(conn)
}

/// Revoked access-token ids whose tokens have expired anyway.
pub fn revoked_access_tokens(conn: &mut super::Conn, now: i64, batch: i64) -> QueryResult<usize> {
    let doomed = revoked_access_tokens::table
        .filter(revoked_access_tokens::expires_at.le(now))
        .select(revoked_access_tokens::jti)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(revoked_access_tokens::table.filter(revoked_access_tokens::jti.eq_any(&doomed)))
        .execute(conn)
}

/// Expired browser sessions.
pub fn sessions(conn: &mut super::Conn, now: i64, batch: i64) -> QueryResult<usize> {
    let doomed = sessions::table
        .filter(sessions::expires_at.le(now))
        .select(sessions::id_hash)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(sessions::table.filter(sessions::id_hash.eq_any(&doomed))).execute(conn)
}

/// Throttling counters that are no longer blocking and that a quiet hour has reset anyway.
pub fn throttle(conn: &mut super::Conn, now: i64, batch: i64) -> QueryResult<usize> {
    let doomed = login_throttle::table
        .filter(login_throttle::blocked_until.le(now))
        .filter(login_throttle::last_failure_at.le(now - super::throttle::FORGET_AFTER))
        .select(login_throttle::throttle_key)
        .limit(batch)
        .load::<String>(conn)?;
    diesel::delete(login_throttle::table.filter(login_throttle::throttle_key.eq_any(&doomed)))
        .execute(conn)
}
