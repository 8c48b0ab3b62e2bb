//! Tessera's integration tests: one binary, each test with its own server on port 0 and its
//! own database, talking HTTP to it (STYLE.md habit 12). The suite runs on SQLite, then once
//! more on PostgreSQL (`postgres.rs`) when PostgreSQL's server programs are installed.
//!
//! A failing assertion is how a test fails, so `panic!`-family macros are allowed here.
#![allow(clippy::panic)]

mod account;
mod admin_api;
mod admin_api_users;
mod admin_console;
mod admin_paging;
mod admin_support;
mod audit;
mod audit_log;
mod authorize;
mod backend;
mod backup;
mod browser;
mod browser_admin;
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
mod password_queue;
mod postgres;
mod prompt;
mod published;
mod register;
mod roles;
mod security;
mod security_headers;
mod storage;
mod throttle;
mod token;
mod userinfo;
mod webdriver;
