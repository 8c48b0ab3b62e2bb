//! Second-factor use cases: whether a person needs one, checking a TOTP or recovery code (with
//! replay protection and the same throttling as passwords), confirming an enrolment, and new
//! recovery codes. Every function takes `now` and runs inside [`crate::db::Db::run`].

use crate::config::MfaPolicy;
use crate::crypto::totp;
use crate::db::users::User;
use crate::db::{self, Conn, DbError};

/// How long a sign-in may wait for its second factor.
pub const PENDING_TTL: i64 = 5 * 60;
/// Wrong codes an account may send in a row before each further one is delayed.
pub const FREE_ACCOUNT_FAILURES: i32 = 5;
/// Wrong codes (and passwords) one address may send.
pub const FREE_IP_FAILURES: i32 = 20;

/// `amr` of a sign-in with password only, and with password and a second factor (RFC 8176).
pub const AMR_PASSWORD: &str = "pwd";
pub const AMR_MFA: &str = "pwd otp";

/// What a person has to do after their password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing: the session starts.
    None,
    /// Enter a code from their authenticator app (or a recovery code).
    Code,
    /// MFA is required and they have none: enrol now.
    Enrol,
}

/// The step after a correct password for `user`.
pub fn step_after_password(
    conn: &mut Conn,
    user: &User,
    policy: MfaPolicy,
) -> Result<Step, DbError> {
    let enrolled = db::mfa::credential(conn, &user.id)?.is_some_and(|c| c.confirmed);
    Ok(if enrolled {
        Step::Code
    } else if user.mfa_required || policy == MfaPolicy::Required {
        Step::Enrol
    } else {
        Step::None
    })
}

/// Whether MFA may not be turned off for this user.
pub fn is_mandatory(user: &User, policy: MfaPolicy) -> bool {
    user.mfa_required || policy == MfaPolicy::Required
}

/// What a code came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A TOTP code of a step not used before.
    Totp,
    /// An unused recovery code (now used).
    Recovery,
    /// A correct TOTP code of a step already used.
    Replayed,
    Wrong,
    Throttled,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        matches!(self, Self::Totp | Self::Recovery)
    }

    /// The message shown for a refused code.
    pub fn message(&self) -> &'static str {
        match self {
            Self::Replayed => {
                "This code has already been used. Wait for your app to show the next one."
            }
            Self::Throttled => "Too many wrong codes. Wait a minute and try again.",
            _ => "That code is not correct. Check your authenticator app and try again.",
        }
    }
}

fn account_key(user_id: &str) -> String {
    format!("mfa:{user_id}")
}

/// The throttling key of a client address, shared with password sign-ins.
pub fn ip_key(ip: &str) -> String {
    format!("ip:{ip}")
}

/// Checks `code` against the user's TOTP secret (confirmed or not, as `confirmed` says) and,
/// when `allow_recovery`, their recovery codes. A wrong or replayed code counts as a failure
/// for the account and the address; a good one clears the account's count.
pub fn check_code(
    conn: &mut Conn,
    user_id: &str,
    ip: &str,
    code: &str,
    confirmed: bool,
    allow_recovery: bool,
    now: i64,
) -> Result<Verdict, DbError> {
    let (account, ip) = (account_key(user_id), ip_key(ip));
    if db::throttle::any_blocked(conn, &[&account, &ip], now)? {
        return Ok(Verdict::Throttled);
    }
    let code = code.trim();
    let credential = db::mfa::credential(conn, user_id)?.filter(|c| c.confirmed == confirmed);
    let verdict = db::write_transaction(conn, |conn| -> Result<Verdict, DbError> {
        let verdict = match &credential {
            None => Verdict::Wrong,
            Some(c) if totp::is_totp_code(code) => {
                match totp::matching_step(&c.secret, code, now) {
                    Some(step) if db::mfa::take_step(conn, user_id, step)? => Verdict::Totp,
                    Some(_) => Verdict::Replayed,
                    None => Verdict::Wrong,
                }
            }
            Some(_) if allow_recovery && !code.is_empty() && code.len() <= 64 => {
                let hash = totp::recovery_hash(code);
                if db::mfa::use_recovery_code(conn, user_id, &hash, now)? {
                    Verdict::Recovery
                } else {
                    Verdict::Wrong
                }
            }
            Some(_) => Verdict::Wrong,
        };
        if verdict.passed() {
            db::throttle::clear(conn, &account)?;
        } else {
            db::throttle::record_failure(conn, &account, FREE_ACCOUNT_FAILURES, now)?;
            db::throttle::record_failure(conn, &ip, FREE_IP_FAILURES, now)?;
        }
        Ok(verdict)
    })?;
    Ok(verdict)
}

/// The user's unconfirmed TOTP secret, created when there is none; `None` when they already
/// have a confirmed one.
pub fn enrolment_secret(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<Option<String>, DbError> {
    match db::mfa::credential(conn, user_id)? {
        Some(c) if c.confirmed => Ok(None),
        Some(c) => Ok(Some(c.secret)),
        None => {
            let secret = totp::new_secret();
            db::write_transaction(conn, |conn| {
                db::mfa::put_unconfirmed(conn, user_id, &secret, now)
            })?;
            Ok(Some(secret))
        }
    }
}

/// Confirms an enrolment with a first code; on success answers the new recovery codes
/// (shown once).
pub fn confirm_enrolment(
    conn: &mut Conn,
    user_id: &str,
    ip: &str,
    code: &str,
    now: i64,
) -> Result<Result<Vec<String>, Verdict>, DbError> {
    let verdict = check_code(conn, user_id, ip, code, false, false, now)?;
    if !verdict.passed() {
        return Ok(Err(verdict));
    }
    Ok(Ok(new_recovery_codes(conn, user_id, now)?))
}

/// Replaces the user's recovery codes; answers the new ones (shown once).
pub fn new_recovery_codes(
    conn: &mut Conn,
    user_id: &str,
    now: i64,
) -> Result<Vec<String>, DbError> {
    let (codes, hashes) = totp::new_recovery_codes();
    db::mfa::replace_recovery_codes(conn, user_id, &hashes, now)?;
    Ok(codes)
}
