//! The `Cookie` header through `web::session::cookie_value`: only a well-formed 256-bit value
//! is ever taken as a session cookie.
#![no_main]

use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use libfuzzer_sys::fuzz_target;
use tessera::web::session::cookie_value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let req = TestRequest::get()
        .uri("/authorize")
        .insert_header((header::COOKIE, value))
        .to_http_request();
    if let Some(v) = cookie_value(&req) {
        assert_eq!(v.len(), 43);
        assert!(
            v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }
});
