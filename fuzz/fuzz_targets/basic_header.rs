//! `Authorization: Basic` credentials (RFC 6749 2.3.1) through
//! `oidc::client_auth::basic_credentials`.
#![no_main]

use actix_web::http::header::{self, HeaderValue};
use actix_web::test::TestRequest;
use libfuzzer_sys::fuzz_target;
use tessera::oidc::client_auth::basic_credentials;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let req = TestRequest::post()
        .uri("/token")
        .insert_header((header::AUTHORIZATION, value))
        .to_http_request();
    if let Ok(Some((id, secret))) = basic_credentials(&req) {
        // Both halves come from the header: never longer than it.
        assert!(id.len() + secret.len() <= data.len());
    }
});
