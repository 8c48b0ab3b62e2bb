//! Failed sign-in counters per account and per client IP, with growing delays.
//!
//! A key may fail `free` times in a row; each further failure blocks it for twice as long as
//! the one before (2 s, 4 s, 8 s, … up to 15 minutes). A quiet hour forgets the count.

use diesel::prelude::*;

use super::schema::login_throttle;

/// The longest block.
pub const MAX_BLOCK: i64 = 15 * 60;
/// A key with no failure for this long starts again from zero.
pub const FORGET_AFTER: i64 = 60 * 60;

/// Whether any of `keys` (an account's and an address's) is blocked at `now`, in one query.
pub fn any_blocked(conn: &mut super::Conn, keys: &[&str], now: i64) -> QueryResult<bool> {
    let blocked: i64 = login_throttle::table
        .filter(login_throttle::throttle_key.eq_any(keys))
        .filter(login_throttle::blocked_until.gt(now))
        .count()
        .get_result(conn)?;
    Ok(blocked > 0)
}

/// Records one failure of `key`, which may fail `free` times before being blocked. Call it in a
/// [`super::write_transaction`]: the first statement creates or locks the row, so concurrent
/// failures of one key are counted one after the other on both backends.
pub fn record_failure(conn: &mut super::Conn, key: &str, free: i32, now: i64) -> QueryResult<()> {
    let lock = diesel::insert_into(login_throttle::table)
        .values((
            login_throttle::throttle_key.eq(key),
            login_throttle::failures.eq(0),
            login_throttle::last_failure_at.eq(now),
            login_throttle::blocked_until.eq(0i64),
        ))
        .on_conflict(login_throttle::throttle_key)
        .do_update()
        .set(login_throttle::failures.eq(login_throttle::failures));
    super::on_backend!(&mut *conn, c => lock.execute(c))?;
    let previous: Option<(i32, i64)> = login_throttle::table
        .find(key)
        .select((login_throttle::failures, login_throttle::last_failure_at))
        .get_result(conn)
        .optional()?;
    let failures = match previous {
        Some((n, last)) if now - last < FORGET_AFTER => n.saturating_add(1),
        _ => 1,
    };
    let over = failures - free;
    let blocked_until = if over > 0 {
        now + (1i64 << over.min(20)).min(MAX_BLOCK)
    } else {
        0
    };
    diesel::update(login_throttle::table.find(key))
        .set((
            login_throttle::failures.eq(failures),
            login_throttle::last_failure_at.eq(now),
            login_throttle::blocked_until.eq(blocked_until),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Forgets the failures of `key` (after a successful sign-in of that account).
pub fn clear(conn: &mut super::Conn, key: &str) -> QueryResult<()> {
    diesel::delete(login_throttle::table.find(key))
        .execute(conn)
        .map(|_| ())
}
