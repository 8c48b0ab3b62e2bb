//! Two-step verification from `/account`: set up TOTP (QR code and key, confirmed by a first
//! code), new recovery codes, and turning it off with a current code or the password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

use super::account::{self, done, page};
use super::login::client_ip;
use super::mfa::{RecoveryPage, enrol_page, enrol_response};
use super::pages;
use crate::clock;
use crate::db::{self, DbError};
use crate::mfa::{self, Verdict};
use crate::state::AppState;

const CONFIRM: &str = "/account/mfa/confirm";

fn refused_status(verdict: &Verdict) -> StatusCode {
    if *verdict == Verdict::Throttled {
        StatusCode::TOO_MANY_REQUESTS
    } else {
        StatusCode::UNAUTHORIZED
    }
}

/// Shows the enrolment page with a new (or the pending) secret.
pub async fn setup(req: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let now = clock::now();
    let (_, person) = match account::post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let user_id = person.user.id.clone();
    let secret = state
        .db
        .run(move |conn| mfa::enrolment_secret(conn, &user_id, now))
        .await;
    match secret {
        Ok(Some(secret)) => enrol_response(
            StatusCode::OK,
            &enrol_page(
                &secret,
                &person.user.username,
                &person.csrf,
                CONFIRM,
                None,
                false,
            ),
        ),
        Ok(None) => done("mfa-on"),
        Err(e) => super::unavailable(e),
    }
}

/// Confirms the enrolment with a first code and shows the recovery codes once.
pub async fn confirm(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (params, person) = match account::post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let code = params.get("code").unwrap_or("").to_string();
    let (user_id, ip) = (person.user.id.clone(), client_ip(&req));
    let outcome = state
        .db
        .run(move |conn| -> Result<_, DbError> {
            let confirmed = mfa::confirm_enrolment(conn, &user_id, &ip, &code, now)?;
            let secret = db::mfa::credential(conn, &user_id)?
                .filter(|c| !c.confirmed)
                .map(|c| c.secret);
            Ok((confirmed, secret))
        })
        .await;
    match outcome {
        Ok((Ok(codes), _)) => {
            tracing::info!(user_id = %person.user.id, "A person turned on two-step verification.");
            pages::html(
                StatusCode::OK,
                &RecoveryPage {
                    codes,
                    continue_to: &format!("{}?done=mfa-on", pages::paths::ACCOUNT),
                },
            )
        }
        Ok((Err(verdict), Some(secret))) => enrol_response(
            refused_status(&verdict),
            &enrol_page(
                &secret,
                &person.user.username,
                &person.csrf,
                CONFIRM,
                Some(verdict.message()),
                false,
            ),
        ),
        Ok((Err(_), None)) => {
            page(
                &state,
                &person,
                StatusCode::BAD_REQUEST,
                None,
                Some("Start setting up two-step verification again."),
            )
            .await
        }
        Err(e) => super::unavailable(e),
    }
}

/// Replaces the recovery codes and shows the new ones once.
pub async fn recovery(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (_, person) = match account::post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let user_id = person.user.id.clone();
    let codes = state
        .db
        .run(move |conn| -> Result<Option<Vec<String>>, DbError> {
            if !db::mfa::credential(conn, &user_id)?.is_some_and(|c| c.confirmed) {
                return Ok(None);
            }
            db::write_transaction(conn, |conn| {
                mfa::new_recovery_codes(conn, &user_id, now).map(Some)
            })
        })
        .await;
    match codes {
        Ok(Some(codes)) => {
            tracing::info!(user_id = %person.user.id, "A person made new recovery codes.");
            pages::html(
                StatusCode::OK,
                &RecoveryPage {
                    codes,
                    continue_to: pages::paths::ACCOUNT,
                },
            )
        }
        Ok(None) => {
            page(
                &state,
                &person,
                StatusCode::BAD_REQUEST,
                None,
                Some("Two-step verification is not on."),
            )
            .await
        }
        Err(e) => super::unavailable(e),
    }
}

/// What an attempt to turn MFA off came to.
enum Disable {
    Done,
    Refused(&'static str, StatusCode),
}

/// Turns two-step verification off, proved by a current code (or recovery code) or the
/// password; refused when the account or the server requires it.
pub async fn disable(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let now = clock::now();
    let (params, person) = match account::post(&req, &body, &state, now).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    if mfa::is_mandatory(&person.user, state.config.mfa) {
        let message = "Your account requires two-step verification, so it cannot be turned off.";
        return page(&state, &person, StatusCode::FORBIDDEN, None, Some(message)).await;
    }
    let proof = params.get("code").unwrap_or("").to_string();
    let user = person.user.clone();
    let ip = client_ip(&req);
    let (account_key, ip_key) = account::password_keys(&user, &req);
    let by_code = crate::crypto::totp::is_totp_code(&proof)
        || (proof.len() == 19 && proof.matches('-').count() == 3);
    // A password proof is checked on the argon2 executor, outside the database call, once the
    // throttle allows it.
    let mut password_matched = false;
    if !by_code {
        let blocked =
            account::password_blocked(&state, (account_key.clone(), ip_key.clone()), now).await;
        match blocked {
            Ok(false) => {}
            Ok(true) => {
                let status = StatusCode::TOO_MANY_REQUESTS;
                return page(&state, &person, status, None, Some(super::login::THROTTLED)).await;
            }
            Err(e) => return super::unavailable(e),
        }
        password_matched = match state
            .hashing
            .verify(proof.clone(), user.password_hash.clone())
            .await
        {
            Ok(matched) => matched,
            Err(e) => return super::hashing_refused(e),
        };
    }
    let outcome = state
        .db
        .run(move |conn| -> Result<Disable, DbError> {
            if by_code {
                let verdict = mfa::check_code(conn, &user.id, &ip, &proof, true, true, now)?;
                if !verdict.passed() {
                    return Ok(Disable::Refused(
                        verdict.message(),
                        refused_status(&verdict),
                    ));
                }
            } else if !password_matched {
                db::write_transaction(conn, |conn| {
                    account::record_password_failure(conn, &account_key, &ip_key, now)
                })?;
                return Ok(Disable::Refused(
                    "That is neither a current code nor your password.",
                    StatusCode::UNAUTHORIZED,
                ));
            }
            db::write_transaction(conn, |conn| db::mfa::remove_all(conn, &user.id))?;
            Ok(Disable::Done)
        })
        .await;
    match outcome {
        Ok(Disable::Done) => {
            tracing::info!(user_id = %person.user.id, "A person turned off two-step verification.");
            done("mfa-off")
        }
        Ok(Disable::Refused(message, status)) => {
            page(&state, &person, status, None, Some(message)).await
        }
        Err(e) => super::unavailable(e),
    }
}
