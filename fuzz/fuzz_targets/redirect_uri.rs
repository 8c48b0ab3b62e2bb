//! Redirect URIs: registration checks and exact matching (with the loopback port rule).
//! Input: registered URI, a NUL byte, presented URI.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::domain::redirect::{matches, validate_registered};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (registered, presented) = text.split_once('\0').unwrap_or((&text, &text));
    let _ = validate_registered(registered);
    let list = vec![registered.to_string()];
    assert!(matches(&list, registered), "a URI always matches itself");
    if matches(&list, presented) && presented != registered {
        // Only a loopback IP redirect URI may differ, and only in its port.
        assert!(
            registered.starts_with("http://127.0.0.1") || registered.starts_with("http://[::1]"),
            "{registered:?} matched {presented:?}"
        );
    }
});
