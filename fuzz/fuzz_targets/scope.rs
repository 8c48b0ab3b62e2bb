//! Scope strings (RFC 6749 3.3): parsing is idempotent through its own printing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::domain::scope::Scopes;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scopes) = Scopes::parse(text) {
        let printed = scopes.to_string();
        let again = Scopes::parse(&printed).expect("a printed scope parses");
        assert_eq!(again, scopes);
        assert!(scopes.is_subset_of(&again) && again.is_subset_of(&scopes));
    }
});
