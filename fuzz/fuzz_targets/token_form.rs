//! The token endpoint's form body with a content type chosen by the first byte, through
//! `oidc::token::form_params` (also used by introspection, revocation and userinfo).
#![no_main]

use actix_web::http::header;
use actix_web::test::TestRequest;
use libfuzzer_sys::fuzz_target;
use tessera::oidc::token::form_params;

const TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-8",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/json",
    "",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let mut req = TestRequest::post().uri("/token");
    let content_type = TYPES[selector as usize % TYPES.len()];
    if !content_type.is_empty() {
        req = req.insert_header((header::CONTENT_TYPE, content_type));
    }
    let req = req.to_http_request();
    if let Ok(params) = form_params(&req, body) {
        let _ = params.get("grant_type");
        let _ = params.get("code");
    }
});
