//! The authorization request's query: Tessera's parameter parser (limits, repeats), then each
//! parameter through its own parser, as `oidc::authorize::validate` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::domain::params::{MAX_PARAMS, MAX_VALUE_LEN, Params};
use tessera::domain::{redirect, scope::Scopes};
use tessera::oidc::authorize::is_pkce_value;

const REGISTERED: &[&str] = &["https://portal.example/cb", "http://127.0.0.1/callback"];

fuzz_target!(|data: &[u8]| {
    let registered: Vec<String> = REGISTERED.iter().map(|s| s.to_string()).collect();
    let first = Params::parse_first(data);
    let Ok(params) = Params::parse(data) else {
        return;
    };
    let count = params.pairs().count();
    assert!(count <= MAX_PARAMS);
    assert!(params.pairs().all(|(_, v)| v.len() <= MAX_VALUE_LEN));
    assert_eq!(
        first.pairs().count(),
        count,
        "parse_first agrees on a clean request"
    );
    // Re-encoding and parsing again gives the same pairs.
    let again = Params::parse(params.encode_without(&[]).as_bytes()).expect("round trip");
    assert!(again.pairs().eq(params.pairs()));
    if let Some(s) = params.get("scope") {
        let _ = Scopes::parse(s);
    }
    if let Some(uri) = params.get("redirect_uri") {
        let _ = redirect::matches(&registered, uri);
    }
    for name in ["code_challenge", "code_verifier"] {
        if let Some(v) = params.get(name) {
            let _ = is_pkce_value(v);
        }
    }
    if let Some(v) = params.get("max_age") {
        let _ = v.parse::<u32>();
    }
});
