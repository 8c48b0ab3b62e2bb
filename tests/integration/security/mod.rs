//! Attacks and faults, one module per concern; docs/security-tests.md maps every rule of
//! SECURITY.md to the test that attacks it.

mod crash;
mod process;
mod secrets;
mod sweep;
mod unavailable;
