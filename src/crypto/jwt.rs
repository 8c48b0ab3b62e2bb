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

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::Deserialize;

    use super::*;
    use crate::crypto::keys;
    use crate::db::keys::KeyRow;

    #[derive(Debug, Serialize, Deserialize)]
    struct Claims {
        iss: String,
        sub: String,
        exp: i64,
        #[serde(default)]
        nbf: Option<i64>,
    }

    impl TimeClaims for Claims {
        fn exp(&self) -> i64 {
            self.exp
        }
        fn nbf(&self) -> Option<i64> {
            self.nbf
        }
    }

    fn key_set(dir: &std::path::Path) -> KeySet {
        let kid = keys::generate(dir).expect("generate");
        let row = KeyRow {
            kid,
            alg: "RS256".into(),
            created_at: 0,
            retired_at: None,
            private_key: None,
            signs_from: 0,
        };
        let vault = keys::KeyVault::new(dir.to_path_buf(), None);
        KeySet::build(&vault, &[row], 0, 60).expect("build")
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            iss: "https://id.example".into(),
            sub: "u1".into(),
            exp,
            nbf: None,
        }
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    #[test]
    fn signed_tokens_verify_and_forgeries_do_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = key_set(dir.path());
        let verify_as = |t: &str, typ: &str, iss: &str, now: i64| {
            verify::<Claims>(&keys, t, typ, iss, Some(now), 0)
        };
        let check = |t: &str| verify_as(t, ACCESS_TOKEN_TYP, "https://id.example", 500);
        let token = sign(&keys, ACCESS_TOKEN_TYP, &claims(1_000)).expect("sign");

        assert_eq!(check(&token).expect("valid token").sub, "u1");
        // Signed again with the cached key pair: still valid.
        let again = sign(&keys, ACCESS_TOKEN_TYP, &claims(1_000)).expect("sign");
        assert!(check(&again).is_ok());
        assert_eq!(
            verify_as(&token, ACCESS_TOKEN_TYP, "https://other.example", 500).err(),
            Some(VerifyError::Invalid)
        );
        assert_eq!(
            verify_as(&token, ACCESS_TOKEN_TYP, "https://id.example", 1_000).err(),
            Some(VerifyError::Expired)
        );
        assert_eq!(
            verify_as(&token, "JWT", "https://id.example", 500).err(),
            Some(VerifyError::Type)
        );

        let parts: Vec<&str> = token.split('.').collect();
        let kid = keys.signer.kid.clone();
        let none = format!(
            "{}.{}.",
            b64(&serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
            parts[1]
        );
        assert!(check(&none).is_err());
        let hs = format!(
            "{}.{}.c2ln",
            b64(&serde_json::json!({"alg": "HS256", "typ": "at+jwt", "kid": kid})),
            parts[1]
        );
        assert_eq!(check(&hs).err(), Some(VerifyError::Algorithm));
        let unknown = format!(
            "{}.{}.{}",
            b64(&serde_json::json!({"alg": "RS256", "typ": "at+jwt", "kid": "nope"})),
            parts[1],
            parts[2]
        );
        assert_eq!(check(&unknown).err(), Some(VerifyError::UnknownKey));
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            b64(&serde_json::json!(claims(9_999))),
            parts[2]
        );
        assert_eq!(check(&tampered).err(), Some(VerifyError::Invalid));
        let mut future = claims(1_000);
        future.nbf = Some(800);
        let early = sign(&keys, ACCESS_TOKEN_TYP, &future).expect("sign");
        assert_eq!(check(&early).err(), Some(VerifyError::NotYetValid));
    }
}
