//! JWT signing with the current key of an algorithm and verification against the published
//! keys. A token is accepted only with a `kid` from our own key set and exactly that key's
//! algorithm: the header's `alg` never chooses how a token is checked.

use jsonwebtoken::{Header, Validation};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::alg::SigningAlg;
use super::keys::KeySet;

/// The header `typ` of RFC 9068 access tokens.
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Signs `claims` with the set's signing key for `alg`; `typ` goes into the header.
pub fn sign<T: Serialize>(
    keys: &KeySet,
    alg: SigningAlg,
    typ: &str,
    claims: &T,
) -> Result<String, String> {
    let signer = keys
        .signer(alg)
        .ok_or_else(|| format!("no active {alg} signing key: run `tessera keys rotate`"))?;
    let mut header = Header::new(alg.jwt());
    header.kid = Some(signer.kid.clone());
    header.typ = Some(typ.to_string());
    jsonwebtoken::encode(&header, claims, &signer.encoding).map_err(|e| e.to_string())
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
/// The key is chosen by `kid` and the header's `alg` must be that key's algorithm.
pub fn verify<T: DeserializeOwned + TimeClaims>(
    keys: &KeySet,
    token: &str,
    expected_typ: &str,
    issuer: &str,
    now: Option<i64>,
    leeway: i64,
) -> Result<T, VerifyError> {
    let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
    if !SigningAlg::ALL.iter().any(|a| a.jwt() == header.alg) {
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
    if header.alg != key.alg.jwt() {
        return Err(VerifyError::Algorithm);
    }
    // Only the key's own algorithm: jsonwebtoken refuses any other header `alg` too.
    let mut validation = Validation::new(key.alg.jwt());
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
pub(crate) mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::Deserialize;

    use jsonwebtoken::{Algorithm, EncodingKey};

    use super::*;

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

    /// A key set with one key of each algorithm.
    pub(crate) fn key_set(dir: &std::path::Path) -> KeySet {
        KeySet::generate_one_of_each(dir).expect("a key set")
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
        let token = sign(&keys, SigningAlg::RS256, ACCESS_TOKEN_TYP, &claims(1_000)).expect("sign");

        assert_eq!(check(&token).expect("valid token").sub, "u1");
        // Signed again with the cached key pair: still valid.
        let again = sign(&keys, SigningAlg::RS256, ACCESS_TOKEN_TYP, &claims(1_000)).expect("sign");
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
        let kid = keys.signer(SigningAlg::RS256).expect("rsa").kid.clone();
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
        let early = sign(&keys, SigningAlg::RS256, ACCESS_TOKEN_TYP, &future).expect("sign");
        assert_eq!(check(&early).err(), Some(VerifyError::NotYetValid));
    }

    /// A token whose header is `header` over `claims`, signed by `alg` with `key`.
    fn forge(
        header: serde_json::Value,
        claims: &Claims,
        alg: Algorithm,
        key: &EncodingKey,
    ) -> String {
        let input = format!("{}.{}", b64(&header), b64(&serde_json::json!(claims)));
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).expect("sign");
        format!("{input}.{sig}")
    }

    #[test]
    fn every_algorithm_signs_with_its_own_key_and_the_key_fixes_the_algorithm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let keys = key_set(dir.path());
        let check = |t: &str| {
            verify::<Claims>(
                &keys,
                t,
                ACCESS_TOKEN_TYP,
                "https://id.example",
                Some(500),
                0,
            )
        };
        let kid = |alg| keys.signer(alg).expect("signer").kid.clone();
        for alg in SigningAlg::ALL {
            let token = sign(&keys, alg, ACCESS_TOKEN_TYP, &claims(1_000)).expect("sign");
            let header = jsonwebtoken::decode_header(&token).expect("header");
            assert_eq!((header.alg, header.kid), (alg.jwt(), Some(kid(alg))));
            assert_eq!(check(&token).expect("valid").sub, "u1", "{alg}");
        }
        let key = |alg| &keys.signer(alg).expect("signer").encoding;
        let head =
            |alg: &str, kid: String| serde_json::json!({"alg": alg, "typ": "at+jwt", "kid": kid});
        let c = claims(1_000);
        // A genuine ES256 signature presented under the RSA key's kid (and the reverse).
        let es_as_rsa = forge(
            head("ES256", kid(SigningAlg::RS256)),
            &c,
            Algorithm::ES256,
            key(SigningAlg::ES256),
        );
        assert_eq!(check(&es_as_rsa).err(), Some(VerifyError::Algorithm));
        let rs_as_ec = forge(
            head("RS256", kid(SigningAlg::ES256)),
            &c,
            Algorithm::RS256,
            key(SigningAlg::RS256),
        );
        assert_eq!(check(&rs_as_ec).err(), Some(VerifyError::Algorithm));
        let ed_as_ec = forge(
            head("EdDSA", kid(SigningAlg::ES256)),
            &c,
            Algorithm::EdDSA,
            key(SigningAlg::EdDSA),
        );
        assert_eq!(check(&ed_as_ec).err(), Some(VerifyError::Algorithm));
        // HS256 keyed with the published EC and OKP public keys.
        for alg in [SigningAlg::ES256, SigningAlg::EdDSA] {
            let public =
                serde_json::to_vec(&keys.verifier(&kid(alg)).expect("key").jwk).expect("jwk");
            let hs = forge(
                head("HS256", kid(alg)),
                &c,
                Algorithm::HS256,
                &EncodingKey::from_secret(&public),
            );
            assert_eq!(check(&hs).err(), Some(VerifyError::Algorithm));
        }
        // `none` under every kid.
        for alg in SigningAlg::ALL {
            let none = format!(
                "{}.{}.",
                b64(&head("none", kid(alg))),
                b64(&serde_json::json!(c))
            );
            assert!(check(&none).is_err());
        }
        // Right header, right kid, but signed by a key that is not ours.
        let other = tempfile::tempdir().expect("tempdir");
        let foreign = key_set(other.path());
        for alg in SigningAlg::ALL {
            let fake = forge(
                head(alg.as_str(), kid(alg)),
                &c,
                alg.jwt(),
                &foreign.signer(alg).expect("signer").encoding,
            );
            assert_eq!(check(&fake).err(), Some(VerifyError::Invalid), "{alg}");
        }
    }
}
