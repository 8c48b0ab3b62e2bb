//! Tessera: an OpenID Connect identity provider in one binary.
//!
//! `startup::Application` is what the binary and the integration tests both run.

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::panic))]

pub mod admin;
pub mod audit;
pub mod cleanup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod hashing;
pub mod logging;
pub mod manage;
pub mod metrics;
pub mod mfa;
pub mod oidc;
pub mod startup;
pub mod state;
pub mod web;
