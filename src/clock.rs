//! The one place the wall clock is read; everything below the handlers takes `now` as a value.

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}
