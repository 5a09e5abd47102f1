//! `calsync replay --since T [--until T] [--event ID]`: re-enqueues logged notifications, for
//! debugging or after a mapping change.
//!
//! Invariants:
//! - A stored body goes through the same interpretation as at the edge
//!   ([`intake::interpret`]), so a replayed notification causes the job its delivery
//!   caused, marked [`JobSource::Replay`] and enqueued with
//!   [`JobQueue::enqueue`](crate::store::JobQueue::enqueue) (coalescing with
//!   pending work like any job). Processing is idempotent: replaying an unchanged event costs no
//!   CRM write, a stale version is skipped, and a deleted event is not resurrected unless the
//!   Events API still returns it.
//! - Grant lifecycle notifications are not replayed: re-applying an old `grant.expired` would
//!   pause a grant that has been re-authenticated since.
//! - The notification log is read, never changed; a running `serve` picks the jobs up from the
//!   shared store (within its poll interval).
//! - What it prints from the log (ids, types, reasons) is escaped and cut
//!   ([`printable::cell`]): a logged notification cannot drive the terminal.

use std::fmt;
use std::io::Write;
use std::str::FromStr;
use std::time::Duration;

use jiff::Timestamp;

use crate::clock::Clock;
use crate::ids::EventId;
use crate::intake::{self, Interpretation};
use crate::nylas::Envelope;
use crate::printable;
use crate::store::{
    JobRequest, JobSource, NotificationFilter, Store, StoreError, StoredNotification,
};

/// Jobs enqueued per store transaction.
const ENQUEUE_CHUNK: usize = 500;
/// The longest notification id or type printed in a "skipped" line (escaped, then cut).
const MAX_ID_WIDTH: usize = 160;
/// The longest reason printed in a "skipped" line.
const MAX_REASON_WIDTH: usize = 300;

/// A point in time on the command line: RFC 3339 (`2026-07-01T09:00:00Z`), Unix seconds
/// (`1782896400`), or a duration before now (`2h`, `90m`, `7d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeArg {
    /// This instant.
    At(Timestamp),
    /// This long before now.
    Ago(Duration),
}

/// A time argument that is none of the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a time: use RFC 3339 (2026-07-01T09:00:00Z), Unix seconds (1782896400) or a duration before now (2h, 90m, 7d)"
)]
pub struct TimeArgError(String);

impl FromStr for TimeArg {
    type Err = TimeArgError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let invalid = || TimeArgError(text.to_string());
        if !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()) {
            let seconds: i64 = text.parse().map_err(|_| invalid())?;
            return Timestamp::from_second(seconds)
                .map(TimeArg::At)
                .map_err(|_| invalid());
        }
        if let Ok(at) = text.parse::<Timestamp>() {
            return Ok(TimeArg::At(at));
        }
        humantime::parse_duration(text)
            .map(TimeArg::Ago)
            .map_err(|_| invalid())
    }
}

impl TimeArg {
    /// The instant this argument names, relative durations counted back from `now`.
    pub fn resolve(self, now: Timestamp) -> Timestamp {
        match self {
            TimeArg::At(at) => at,
            TimeArg::Ago(ago) => now.checked_sub(ago).unwrap_or(Timestamp::MIN),
        }
    }
}

/// What to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayArgs {
    /// Notifications received at or after this time.
    pub since: TimeArg,
    /// Notifications received before this time (default: now).
    pub until: Option<TimeArg>,
    /// Only notifications about this event.
    pub event_id: Option<String>,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Logged notifications in the window.
    pub matched: usize,
    /// Notifications whose job was enqueued again.
    pub replayed: usize,
    /// Notifications left out (grant changes, unusable bodies).
    pub skipped: usize,
    /// Distinct events the replayed notifications are about.
    pub events: usize,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// `--until` is not after `--since`.
    #[error("--until ({until}) must be after --since ({since})")]
    EmptyWindow {
        /// `--since`.
        since: Timestamp,
        /// `--until`.
        until: Timestamp,
    },
    /// The store could not be read or written; nothing, or only part, was enqueued.
    #[error("the store failed during the replay")]
    Store(#[source] StoreError),
    /// The report could not be written.
    #[error("cannot write the replay report")]
    Output(#[source] std::io::Error),
}

/// Why a logged notification is not replayed.
enum Skip {
    Unreadable(String),
    GrantChange,
    Unhandled,
}

impl fmt::Display for Skip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skip::Unreadable(why) => write!(f, "cannot be interpreted: {why}"),
            Skip::GrantChange => f.write_str("grant lifecycle notifications are not replayed"),
            Skip::Unhandled => f.write_str("its trigger causes no sync job"),
        }
    }
}

/// Re-enqueues the logged notifications `args` selects from `store`'s log into `store`'s queue
/// (times relative to `clock`) and writes a report to `out`.
pub async fn run(
    store: &dyn Store,
    clock: Clock,
    args: &ReplayArgs,
    out: &mut impl Write,
) -> Result<ReplaySummary, ReplayError> {
    let now = clock.now();
    let since = args.since.resolve(now);
    let until = args.until.map_or(now, |until| until.resolve(now));
    if until <= since {
        return Err(ReplayError::EmptyWindow { since, until });
    }
    let filter = NotificationFilter {
        since: Some(since),
        until: Some(until),
        event_id: args.event_id.as_deref().map(EventId::from),
    };
    let logged = store
        .list_notifications(&filter)
        .await
        .map_err(ReplayError::Store)?;
    let mut summary = ReplaySummary {
        matched: logged.len(),
        ..ReplaySummary::default()
    };
    let mut jobs = Vec::new();
    for stored in logged {
        match replay_job(&stored) {
            Ok(job) => jobs.push(job),
            Err(skip) => {
                summary.skipped += 1;
                writeln!(
                    out,
                    "skipped {} ({}, received {}): {}",
                    printable::cell(stored.id.as_str(), MAX_ID_WIDTH),
                    printable::cell(&stored.trigger, MAX_ID_WIDTH),
                    stored.received_at,
                    printable::cell(&skip.to_string(), MAX_REASON_WIDTH)
                )
                .map_err(ReplayError::Output)?;
            }
        }
    }
    summary.replayed = jobs.len();
    let mut events: Vec<&str> = jobs.iter().map(|job| job.record_key.as_str()).collect();
    events.sort_unstable();
    events.dedup();
    summary.events = events.len();
    for chunk in jobs.chunks(ENQUEUE_CHUNK) {
        store
            .enqueue(chunk, clock.now())
            .await
            .map_err(ReplayError::Store)?;
    }
    report(out, &summary, since, until).map_err(ReplayError::Output)?;
    Ok(summary)
}

/// The job a logged notification causes, as the edge interpreted it, marked as a replay.
fn replay_job(stored: &StoredNotification) -> Result<JobRequest, Skip> {
    let envelope: Envelope = serde_json::from_slice(&stored.body)
        .map_err(|error| Skip::Unreadable(format!("the body is not an envelope: {error}")))?;
    let interpreted = intake::interpret(envelope, stored.body.clone(), stored.received_at)
        .map_err(|error| Skip::Unreadable(error.to_string()))?;
    let Interpretation::Store(incoming) = interpreted else {
        return Err(Skip::Unhandled);
    };
    match (incoming.job, incoming.grant_change) {
        (Some(mut job), _) => {
            job.source = JobSource::Replay;
            Ok(job)
        }
        (None, Some(_)) => Err(Skip::GrantChange),
        (None, None) => Err(Skip::Unhandled),
    }
}

/// The closing lines of the report.
fn report(
    out: &mut impl Write,
    summary: &ReplaySummary,
    since: Timestamp,
    until: Timestamp,
) -> std::io::Result<()> {
    if summary.matched == 0 {
        return writeln!(
            out,
            "No logged notification was received from {since} to {until} (the log keeps store.keep_notifications)."
        );
    }
    writeln!(
        out,
        "Replayed {} notification(s) for {} event(s), skipped {}, received from {since} to {until}.",
        summary.replayed, summary.events, summary.skipped
    )?;
    if summary.replayed > 0 {
        writeln!(
            out,
            "The jobs are queued in the store: a running calsync serve processes them (an unchanged event costs no CRM write)."
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_rfc3339_unix_seconds_or_durations_ago() {
        let at = Timestamp::from_second(1_782_896_400).unwrap();
        assert_eq!("1782896400".parse(), Ok(TimeArg::At(at)));
        assert_eq!("2026-07-01T09:00:00Z".parse(), Ok(TimeArg::At(at)));
        assert_eq!("2026-07-01T11:00:00+02:00".parse(), Ok(TimeArg::At(at)));
        assert_eq!(
            "2h".parse(),
            Ok(TimeArg::Ago(Duration::from_secs(2 * 3600)))
        );
        assert_eq!(
            " 7d ".parse(),
            Ok(TimeArg::Ago(Duration::from_secs(7 * 86_400)))
        );
        for bad in ["", "yesterday", "2026-13-01", "-5", "99999999999999999999"] {
            assert!(bad.parse::<TimeArg>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn relative_times_count_back_from_now() {
        let now = Timestamp::from_second(10_000).unwrap();
        assert_eq!(
            TimeArg::Ago(Duration::from_secs(600)).resolve(now),
            Timestamp::from_second(9_400).unwrap()
        );
        let at = Timestamp::from_second(5).unwrap();
        assert_eq!(TimeArg::At(at).resolve(now), at);
    }
}
