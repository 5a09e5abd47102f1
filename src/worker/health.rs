//! Per-target health: telling an outage from one bad event.
//!
//! The worker talks to two targets, the CRM and Nylas. When one of them is down, throttling or
//! rejecting calsync's credentials, every job fails the same way. Counting those failures
//! against each job's `max_attempts` would dead-letter healthy events during a long outage, and
//! retrying each job on its own schedule would hammer a target that is already struggling.
//! [`Health`] decides, for each failure, whether it belongs to the *target* or to the *event*.
//!
//! # The rule
//! - **Target-level signals** ([`Signal`]) are failures that say nothing about the event: no
//!   answer (connection refused, DNS, TLS: *unreachable*; a timeout or a body cut short), 408,
//!   425, 429, 5xx, a request held back by the target's pause, a vendor's throttle signal, and
//!   rejected credentials (401/403, a missing key). An expired Nylas *grant* is not one: the
//!   worker pauses that grant alone. Everything else (400, 404, 409, 422, an unusable answer, a
//!   mapping error) belongs to the event.
//! - A target-level failure is **target-wide** when
//!   1. the target throttles (429 or a vendor's throttle) or rejects the credentials: it says
//!      so for every request;
//!   2. or nothing answered at all (unreachable): the event cannot cause that;
//!   3. or the target is already backed off: the request was held back by the pause, was in
//!      flight when the back-off began, or is the probe after a back-off;
//!   4. or target-level failures of **two different events** happened within `retry_max` of
//!      each other with no healthy answer from the target in between.
//!
//!   Otherwise (only this event has seen the target fail since it last answered healthily) the
//!   failure is the **event's**: it counts against `max_attempts`, with the event's own backoff
//!   or the `Retry-After` it was given.
//! - A target-wide failure never counts against the job. Unless the target is already backed
//!   off, it backs the whole target off: its [`TargetGate`] is paused for the time the target
//!   asked (`Retry-After`), else for an exponential back-off with jitter that doubles with each
//!   consecutive back-off, from `retry_initial` up to `retry_max`. The job is rescheduled for
//!   the end of the pause.
//! - While a target is paused, workers claim nothing ([`Admission::Hold`]: every job may need
//!   both targets), and requests already under way wait a short pause out or fail fast without
//!   being sent (the gate). After a back-off the target is *recovering*: one job at a time is let
//!   through ([`Admission::Probe`]) until the target gives a healthy answer (or a job succeeds
//!   without needing it).
//! - A **healthy answer** is a success or a client error about the request itself (a 404 or a
//!   422 proves the target is up), recorded on the gate by the client that got it (any job,
//!   backfill, a contact lookup). The first one clears everything: the back-off level, the
//!   failing events and the recovering state.
//!
//! # Consequences
//! - A CRM that is down for hours costs each event at most one counted attempt (the first
//!   failure, before a second event confirms the outage), and costs the CRM about one request
//!   per pause (at most one per `retry_max/2` once the back-off is at its cap).
//! - An event that fails alone while others succeed (a 500 only for that record) exhausts its
//!   attempts and becomes a dead letter; other events keep flowing.
//! - An outage seen by a single event (a quiet hour, one change) cannot be told from that
//!   event's own failure, unless nothing answers at all: it counts against the event until a
//!   second event confirms the outage. If its attempts run out first, `calsync dlq retry`
//!   brings it back.
//!
//! Time is tokio's, so back-offs are testable with paused time.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use super::process::SyncError;
use crate::crm::CrmError;
use crate::nylas::NylasError;
use crate::retry::gate::TargetGate;
use crate::retry::{Backoff, Retry, classify_transport, is_unreachable};

/// An outbound target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// The CRM the adapter writes to.
    Crm,
    /// The Nylas API.
    Nylas,
}

/// A target-level failure (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The target asked calsync to slow down (429, a vendor's throttle), for this long if it
    /// said.
    Throttled(Option<Duration>),
    /// The request was not sent: the target is paused for this long.
    HeldBack(Duration),
    /// Nothing answered (connection refused or reset, DNS, TLS).
    Unreachable,
    /// A server error, 408 or 425, a timeout or a body cut short; with `Retry-After` if given.
    Failing(Option<Duration>),
    /// The target rejected calsync's credentials.
    Auth,
}

impl Signal {
    /// The time the target asked for, if any.
    fn asked(self) -> Option<Duration> {
        match self {
            Signal::Throttled(asked) | Signal::Failing(asked) => asked,
            Signal::HeldBack(_) | Signal::Unreachable | Signal::Auth => None,
        }
    }
}

/// The decision about one failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The target is failing for everyone: do not count the attempt; retry when it resumes.
    TargetWide {
        /// How long until the target is let through again.
        resume_in: Duration,
        /// True when this failure backed the target off (further); false when the target was
        /// already backed off.
        backed_off: bool,
    },
    /// The failure is the event's: count it and use the event's own backoff.
    ThisEvent,
}

/// Whether workers may claim jobs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Claim freely.
    Open,
    /// A target is recovering from a back-off: one job at a time until it answers healthily.
    Probe,
    /// A target is paused for this long: claim nothing.
    Hold(Duration),
}

/// The health of the CRM and of Nylas, shared by every worker of the process.
pub struct Health {
    crm: TargetHealth,
    nylas: TargetHealth,
    backoff: Backoff,
}

struct TargetHealth {
    gate: TargetGate,
    /// `Some(kind)` for the CRM (the `crm.kind` log field).
    crm_kind: Option<&'static str>,
    track: Mutex<Track>,
}

/// What the tracker knows about a target since its last healthy answer.
#[derive(Debug, Default)]
struct Track {
    /// The gate's success count when last looked at.
    seen: u64,
    /// Events that hit a target-level failure, with when (the latest per event; two suffice).
    failing: Vec<(String, Instant)>,
    /// Consecutive back-offs.
    level: u32,
    /// Backed off, and no healthy answer since.
    recovering: bool,
    /// The end of the latest back-off this tracker set.
    backed_off_until: Option<Instant>,
}

impl Track {
    /// Remembers a failure of `key`; returns how many different events failed within `window`.
    fn note(&mut self, key: &str, now: Instant, window: Duration) -> usize {
        self.failing
            .retain(|(other, at)| other != key && now.saturating_duration_since(*at) <= window);
        self.failing.push((key.to_string(), now));
        if self.failing.len() > 2 {
            self.failing.remove(0);
        }
        self.failing.len()
    }
}

impl Health {
    /// Tracks the CRM (of adapter kind `crm_kind`) through `crm` and Nylas through `nylas`,
    /// backing a failing target off with `backoff`.
    pub fn new(
        crm: TargetGate,
        crm_kind: &'static str,
        nylas: TargetGate,
        backoff: Backoff,
    ) -> Self {
        Health {
            crm: TargetHealth::new(crm, Some(crm_kind)),
            nylas: TargetHealth::new(nylas, None),
            backoff,
        }
    }

    /// The target's name (`crm:<kind>`, `nylas`), as in metrics.
    pub fn label(&self, target: Target) -> &str {
        self.target(target).gate.label()
    }

    /// Whether workers may claim jobs now.
    pub fn admission(&self) -> Admission {
        let mut hold = Duration::ZERO;
        let mut probe = false;
        for health in [&self.crm, &self.nylas] {
            let mut track = health.lock();
            health.refresh(&mut track);
            hold = hold.max(health.gate.remaining());
            probe |= track.recovering;
        }
        if !hold.is_zero() {
            Admission::Hold(hold)
        } else if probe {
            Admission::Probe
        } else {
            Admission::Open
        }
    }

    /// Records that a job succeeded. A job that did not need a recovering target (an unchanged
    /// record, a payload trusted without fetching) proves nothing about it, but must not keep
    /// the pool at one job at a time forever: the target stops *recovering* once its pause is
    /// over (its back-off level stays until it answers healthily).
    pub fn job_succeeded(&self) {
        for health in [&self.crm, &self.nylas] {
            let mut track = health.lock();
            health.refresh(&mut track);
            if track.recovering && health.gate.remaining().is_zero() {
                track.recovering = false;
            }
        }
    }

    /// Decides about a target-level failure of the job of `key` (see the module docs), backing
    /// the target off when it fails for everyone.
    pub fn failure(&self, target: Target, key: &str, signal: Signal) -> Verdict {
        let health = self.target(target);
        let now = Instant::now();
        let mut track = health.lock();
        health.refresh(&mut track);
        let in_backoff = track.backed_off_until.is_some_and(|until| until > now);
        if in_backoff || matches!(signal, Signal::HeldBack(_)) {
            if let Some(asked) = signal.asked() {
                health.gate.pause_for(asked);
            }
            track.recovering = true;
            let held = match signal {
                Signal::HeldBack(wait) => wait,
                _ => Duration::ZERO,
            };
            return Verdict::TargetWide {
                resume_in: health.gate.remaining().max(held),
                backed_off: false,
            };
        }
        let target_wide = match signal {
            Signal::Throttled(_) | Signal::Unreachable | Signal::Auth => true,
            Signal::Failing(_) => track.recovering || track.note(key, now, self.backoff.max) >= 2,
            Signal::HeldBack(_) => true,
        };
        if !target_wide {
            return Verdict::ThisEvent;
        }
        track.level = track.level.saturating_add(1);
        let pause = signal
            .asked()
            .unwrap_or_else(|| self.backoff.delay(track.level));
        let resume_in = health.gate.pause_for(pause);
        track.backed_off_until = Some(now + resume_in);
        track.recovering = true;
        track.failing.clear();
        health.log_back_off(signal, resume_in, track.level);
        Verdict::TargetWide {
            resume_in,
            backed_off: true,
        }
    }

    fn target(&self, target: Target) -> &TargetHealth {
        match target {
            Target::Crm => &self.crm,
            Target::Nylas => &self.nylas,
        }
    }
}

impl TargetHealth {
    fn new(gate: TargetGate, crm_kind: Option<&'static str>) -> Self {
        let seen = gate.successes();
        TargetHealth {
            gate,
            crm_kind,
            track: Mutex::new(Track {
                seen,
                ..Track::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Track> {
        // A poisoned lock only means a panic elsewhere while holding it; the counters are
        // still consistent enough to steer retries.
        self.track.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Forgets every failure once the target answered healthily since the last look.
    fn refresh(&self, track: &mut Track) {
        let successes = self.gate.successes();
        if successes == track.seen {
            return;
        }
        if track.recovering {
            match self.crm_kind {
                Some(kind) => tracing::info!(crm.kind = kind, "The CRM answers again; resuming."),
                None => tracing::info!("Nylas answers again; resuming."),
            }
        }
        *track = Track {
            seen: successes,
            ..Track::default()
        };
    }

    fn log_back_off(&self, signal: Signal, pause: Duration, level: u32) {
        let after_ms = pause.as_millis() as u64;
        let service = self.gate.label();
        let (name, kind) = match self.crm_kind {
            Some(kind) => ("The CRM", kind),
            None => ("Nylas", ""),
        };
        // `crm.kind` only on the CRM's lines (conventions.md); `service` names the target.
        macro_rules! log {
            ($level:ident, $($message:tt)+) => {
                if self.crm_kind.is_some() {
                    tracing::$level!(crm.kind = kind, service, retry.after_ms = after_ms, backoff.level = level, $($message)+)
                } else {
                    tracing::$level!(service, retry.after_ms = after_ms, backoff.level = level, $($message)+)
                }
            };
        }
        match signal {
            Signal::Auth => log!(
                error,
                "{name} rejected calsync's credentials; every job waits until they are fixed (no attempts are counted)."
            ),
            Signal::Throttled(_) => log!(
                warn,
                "{name} is throttling calsync; holding back every request to it."
            ),
            Signal::Unreachable | Signal::Failing(_) | Signal::HeldBack(_) => log!(
                warn,
                "{name} is failing for every event; holding back every request to it (an outage does not count against the events' attempts)."
            ),
        }
    }
}

/// The target and signal of a failure, when it is target-level (see the module docs). An
/// expired Nylas grant is target-level too here; the caller handles it first.
pub fn classify(error: &SyncError) -> Option<(Target, Signal)> {
    match error {
        SyncError::Crm(error) => crm_signal(error).map(|signal| (Target::Crm, signal)),
        SyncError::Nylas(error) => nylas_signal(error).map(|signal| (Target::Nylas, signal)),
        SyncError::Mapping(_)
        | SyncError::Payload(_)
        | SyncError::CalendarUnknown
        | SyncError::MeetingBusy
        | SyncError::CopyContent(_)
        | SyncError::Store(_) => None,
    }
}

fn crm_signal(error: &CrmError) -> Option<Signal> {
    match error {
        CrmError::Status { status, retry, .. } => status_signal(*status, *retry),
        CrmError::Transport { source, .. } => transport_signal(source),
        CrmError::Throttled { wait, .. } => Some(Signal::HeldBack(*wait)),
        CrmError::Shared(inner) => crm_signal(inner),
        CrmError::Redirected {
            redirect, retry, ..
        } => status_signal(redirect.status, *retry),
        CrmError::Protocol { .. } | CrmError::TooLarge { .. } | CrmError::Io { .. } => None,
    }
}

fn nylas_signal(error: &NylasError) -> Option<Signal> {
    match error {
        NylasError::MissingApiKey { .. } => Some(Signal::Auth),
        NylasError::Status { status, retry, .. } => status_signal(*status, *retry),
        NylasError::Transport { source, .. } => transport_signal(source),
        NylasError::Throttled { wait, .. } => Some(Signal::HeldBack(*wait)),
        NylasError::Redirected {
            redirect, retry, ..
        } => status_signal(redirect.status, *retry),
        NylasError::InvalidId { .. } | NylasError::Decode { .. } | NylasError::TooLarge { .. } => {
            None
        }
    }
}

/// A status classified by its client: retryable 4xx other than 408/425 are throttles (429, or
/// a vendor's own signal such as Salesforce's 403 `REQUEST_LIMIT_EXCEEDED`).
fn status_signal(status: u16, retry: Retry) -> Option<Signal> {
    match retry {
        Retry::Permanent => None,
        Retry::Auth => Some(Signal::Auth),
        Retry::After(asked) => Some(match status {
            408 | 425 => Signal::Failing(asked),
            400..=499 => Signal::Throttled(asked),
            _ => Signal::Failing(asked),
        }),
    }
}

fn transport_signal(error: &reqwest::Error) -> Option<Signal> {
    match classify_transport(error) {
        Retry::Permanent => None,
        _ if is_unreachable(error) => Some(Signal::Unreachable),
        _ => Some(Signal::Failing(None)),
    }
}

#[cfg(test)]
mod tests;
