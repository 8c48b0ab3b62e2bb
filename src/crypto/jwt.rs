//! JWT signing with the current key and verification against the published keys.
//! Only RS256 with a `kid` from our own key set is ever accepted.

use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::KeySet;

/// The header `typ` of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Signs `claims` with the set's signing key; `typ` goes into the header.
pub fn sign<T: Serialize>(keys: &KeySet, typ: &str, claims: &T) -> Result<String, String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(keys.signer.kid.clone());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &keys.signer.encoding).map_err(|e| e.to_string())
}

/// Why a presented JWT was refused. None of these says more than "invalid" on the wire.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed token")]
    Malformed,
    #[error("algorithm not accepted")]
    Algorithm,
    #[error("unexpected token type")]
    Type,
    #[error("unknown key")]
    UnknownKey,
    #[error("bad signature or claims")]
    Invalid,
    #[error("expired")]
    Expired,
    #[error("not yet valid")]
    NotYetValid,
}

/// The time claims every verified token must carry.
pub trait TimeClaims {
    fn exp(&self) -> i64;
    fn nbf(&self) -> Option<i64>;
}

/// Verifies signature, `alg`, `typ`, `kid` and `iss`, and, when `now` is given, `exp` and `nbf`
/// with `leeway` seconds. (An ID token used as a logout hint may have expired: `now` is `None`.)
pub fn verify<T: DeserializeOwned + TimeClaims>(
    keys: &KeySet,
    token: &str,
    expected_typ: &str,
    issuer: &str,
    now: Option<i64>,
    leeway: i64,
) -> Result<T, VerifyError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(VerifyError::Algorithm);
    }
    if !header
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case(expected_typ))
    {
        return Err(VerifyError::Type);
    }
    let kid = header.kid.ok_or(VerifyError::UnknownKey)?;
    let key = keys.verifier(&kid).ok_or(VerifyError::UnknownKey)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    // Time is checked below against the caller's clock.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub"]);
    let data = jsonwebtoken::decode::<T>(token, &key.decoding, &validation)
        .map_err(|_| VerifyError::Invalid)?;
    let claims = data.claims;
    let Some(now) = now else {
        return Ok(claims);
    };
    if claims.exp() + leeway <= now {
        return Err(VerifyError::Expired);
    }
    if claims.nbf().is_some_and(|nbf| nbf - leeway > now) {
        return Err(VerifyError::NotYetValid);
    }
    Ok(claims)
}
