//! Tessera's integration tests: one binary, each test with its own server on port 0 and its
//! own database, talking HTTP to it (STYLE.md habit 12). The suite runs on SQLite, then once
//! more on PostgreSQL (`postgres.rs`) when PostgreSQL's server programs are installed.
//!
//! A failing assertion is how a test fails, so `panic!`-family macros are allowed here.
#![allow(clippy::panic)]

mod account;
mod audit;
mod authorize;
mod backend;
mod browser;
mod browser_mfa;
mod cli;
mod concurrency;
mod discovery;
mod flow;
mod forge;
mod helpers;
mod introspect;
mod keys;
mod login;
mod logout;
mod mfa;
mod operations;
mod postgres;
mod prompt;
mod register;
mod security;
mod security_headers;
mod storage;
mod throttle;
mod token;
mod userinfo;
mod webdriver;
