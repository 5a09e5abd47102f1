//! The time window a sweep (backfill or reconciliation pass) lists events in.
//!
//! Invariant: a window is `[start, end)` in Unix seconds; it is shown as RFC 3339 (UTC), or as
//! the bare number when a bound is outside the representable time range.

use std::fmt;

use jiff::Timestamp;

/// The time window of a sweep, Unix seconds, `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The first second in the window.
    pub start: i64,
    /// The first second after the window.
    pub end: i64,
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} – {}", rfc3339(self.start), rfc3339(self.end))
    }
}

/// Unix seconds as RFC 3339 (UTC), or the number when out of range.
pub fn rfc3339(seconds: i64) -> String {
    Timestamp::from_second(seconds)
        .map(|at| at.to_string())
        .unwrap_or_else(|_| seconds.to_string())
}
