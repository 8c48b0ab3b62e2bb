//! Attacks and faults, one module per concern; docs/security-tests.md maps every rule of
//! SECURITY.md to the test that attacks it.

mod crash;
mod enumeration;
mod inputs;
mod pages;
mod process;
mod redirects;
mod secrets;
mod sweep;
mod unavailable;

/// Taken by the tests that load the machine (the sweep, the crash test) and by the timing
/// test, so that the timing test does not measure the others' load.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
