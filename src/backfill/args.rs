//! The `calsync backfill` arguments and the window they describe.
//!
//! Invariants:
//! - A [`BackfillOptions`] always has `start < end` (Unix seconds) and a non-empty, sorted,
//!   de-duplicated grant selection (or none: every grant).
//! - A relative window (`--days`/`--ahead`) is widened to whole UTC days: it starts at midnight
//!   UTC `days` days before today and ends at the midnight after the day `ahead` days from today.
//!   It therefore covers at least what was asked, and it is the *same* window for every run on
//!   the same UTC day, so an interrupted run re-run that day resumes (its checkpoints and the
//!   page tokens Nylas issued for that exact query stay valid). Run on a later day, it is a new
//!   run that starts over (cheaply: unchanged events cost no CRM write).

use jiff::Timestamp;

pub use crate::sweep::{Window, rfc3339};

/// Seconds in a day.
const DAY: i64 = 86_400;
/// The largest `--days`/`--ahead` accepted (a century: beyond it no calendar has events).
pub const MAX_DAYS: u32 = 36_500;
/// Default `--days`.
pub const DEFAULT_DAYS: u32 = 90;
/// Default `--ahead`.
pub const DEFAULT_AHEAD: u32 = 365;

/// `calsync backfill`: read history from the Nylas Events API through the write path.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct BackfillArgs {
    /// Days of history to read, counted back from today (whole UTC days) [default: 90]
    #[arg(long, value_name = "N", conflicts_with_all = ["start", "end"],
          value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_DAYS)))]
    pub days: Option<u32>,
    /// Days ahead of today to read (whole UTC days) [default: 365]
    #[arg(long, value_name = "M", conflicts_with_all = ["start", "end"],
          value_parser = clap::value_parser!(u32).range(..=i64::from(MAX_DAYS)))]
    pub ahead: Option<u32>,
    /// Window start instead of --days: RFC 3339 (2024-06-01T00:00:00Z) or Unix seconds
    #[arg(long, value_name = "T", requires = "end", value_parser = parse_time)]
    pub start: Option<i64>,
    /// Window end (exclusive) instead of --ahead: RFC 3339 or Unix seconds
    #[arg(long, value_name = "T", requires = "start", value_parser = parse_time)]
    pub end: Option<i64>,
    /// Only this grant (repeatable); by default every grant of the application
    #[arg(long = "grant", value_name = "ID")]
    pub grants: Vec<String>,
    /// Grants processed at the same time
    #[arg(long, value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
}

/// Why the arguments do not describe a backfill.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `--start` is not before `--end`.
    #[error("--start ({start}) must be before --end ({end})")]
    EmptyWindow {
        /// The window's start, as given.
        start: String,
        /// The window's end, as given.
        end: String,
    },
    /// A time outside what calsync can represent.
    #[error("the window reaches beyond the representable time range")]
    OutOfRange,
    /// `--grant ""`.
    #[error("--grant needs a grant id, got an empty value")]
    EmptyGrant,
}

/// A validated backfill request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackfillOptions {
    /// The window to read, `[start, end)` in Unix seconds.
    pub window: Window,
    /// Sorted and de-duplicated; empty means every grant of the application.
    pub grants: Vec<String>,
    /// Grants processed concurrently (at least 1).
    pub concurrency: usize,
}

impl BackfillArgs {
    /// Validates the arguments into options; `now` anchors a relative window.
    pub fn options(&self, now: Timestamp) -> Result<BackfillOptions, ArgsError> {
        let window = match (self.start, self.end) {
            (Some(start), Some(end)) => absolute(start, end)?,
            _ => relative(
                now,
                self.days.unwrap_or(DEFAULT_DAYS),
                self.ahead.unwrap_or(DEFAULT_AHEAD),
            )?,
        };
        if self.grants.iter().any(|grant| grant.trim().is_empty()) {
            return Err(ArgsError::EmptyGrant);
        }
        let mut grants: Vec<String> = self.grants.iter().map(|g| g.trim().to_string()).collect();
        grants.sort();
        grants.dedup();
        Ok(BackfillOptions {
            window,
            grants,
            concurrency: usize::from(self.concurrency.max(1)),
        })
    }
}

/// An explicit window.
fn absolute(start: i64, end: i64) -> Result<Window, ArgsError> {
    if start >= end {
        return Err(ArgsError::EmptyWindow {
            start: rfc3339(start),
            end: rfc3339(end),
        });
    }
    Ok(Window { start, end })
}

/// `days` back and `ahead` forward from `now`, widened to whole UTC days.
pub fn relative(now: Timestamp, days: u32, ahead: u32) -> Result<Window, ArgsError> {
    let today = now.as_second().div_euclid(DAY) * DAY;
    let start = today.checked_sub(i64::from(days) * DAY);
    let end = today.checked_add((i64::from(ahead) + 1) * DAY);
    match (start, end) {
        (Some(start), Some(end)) if representable(start) && representable(end) => {
            Ok(Window { start, end })
        }
        _ => Err(ArgsError::OutOfRange),
    }
}

fn representable(seconds: i64) -> bool {
    Timestamp::from_second(seconds).is_ok()
}

/// Parses a time argument: Unix seconds, or an RFC 3339 timestamp with an offset.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<i64>() {
        return if representable(seconds) {
            Ok(seconds)
        } else {
            Err(format!("{seconds} is outside the representable time range"))
        };
    }
    text.parse::<Timestamp>()
        .map(|at| at.as_second())
        .map_err(|error| {
            format!(
                "{text:?} is neither Unix seconds nor an RFC 3339 time such as \
                 2024-06-01T00:00:00Z ({error})"
            )
        })
}

#[cfg(test)]
mod tests;
