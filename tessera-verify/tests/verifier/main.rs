//! The verifier's tests: a local provider for the cache and the token rules, and the example
//! orders API against a real Tessera server.
//!
//! A failing assertion is how a test fails, so `panic!`-family macros are allowed here.
#![allow(clippy::panic)]

mod algs;
#[cfg(feature = "axum")]
mod axum_api;
mod example_api;
mod key_cache;
mod local;
mod tessera;
mod tokens;
