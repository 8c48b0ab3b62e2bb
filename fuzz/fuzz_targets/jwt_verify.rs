//! JWT verification as userinfo, introspection and logout run it: arbitrary tokens (header,
//! claims and signature parsing) against a key set with an RS256, an ES256 and an EdDSA key, and
//! arbitrary claims JSON signed with one of Tessera's own keys, so that the claims parsing behind
//! a valid signature is reached too.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use tessera::crypto::alg::SigningAlg;
use tessera::crypto::jwt::{self, ACCESS_TOKEN_TYP};
use tessera::crypto::keys::KeySet;
use tessera::oidc::claims::{AccessClaims, IdTokenClaims};

const ISSUER: &str = "https://id.example";

static KEYS: LazyLock<KeySet> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-keys-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("key folder");
    KeySet::generate_one_of_each(&dir).expect("key set")
});

fuzz_target!(|data: &[u8]| {
    let keys = &*KEYS;
    let now = chrono::Utc::now().timestamp();
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        let token = String::from_utf8_lossy(rest);
        let access =
            jwt::verify::<AccessClaims>(keys, &token, ACCESS_TOKEN_TYP, ISSUER, Some(now), 5);
        assert!(access.is_err(), "a forged token verified: {token:?}");
        let id = jwt::verify::<IdTokenClaims>(keys, &token, "JWT", ISSUER, None, 0);
        assert!(id.is_err(), "a forged ID token verified: {token:?}");
    } else if let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) {
        let alg = SigningAlg::ALL[usize::from(mode / 2) % SigningAlg::ALL.len()];
        let Ok(token) = jwt::sign(keys, alg, ACCESS_TOKEN_TYP, &claims) else {
            return;
        };
        if let Ok(c) =
            jwt::verify::<AccessClaims>(keys, &token, ACCESS_TOKEN_TYP, ISSUER, Some(now), 5)
        {
            assert_eq!(c.iss, ISSUER);
        }
        let _ = jwt::verify::<IdTokenClaims>(keys, &token, "JWT", ISSUER, None, 0);
    }
});
