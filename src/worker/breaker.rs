//! The per-upstream circuit breaker (`Breaker`): telling an outage of an upstream (the CRM or
//! Nylas) from one bad event.
//!
//! The worker talks to two upstreams, the CRM and Nylas. When one of them is down, throttling or
//! rejecting calsync's credentials, every job fails the same way. Counting those failures
//! against each job's `max_attempts` would dead-letter healthy events during a long outage, and
//! retrying each job on its own schedule would hammer an upstream that is already struggling.
//! [`Breaker`] decides, for each failure, whether it belongs to the *upstream* or to the *event*.
//!
//! # The rule
//! - **Upstream-level signals** ([`Signal`]) are failures that say nothing about the event: no
//!   answer (connection refused, DNS, TLS: *unreachable*; a timeout or a body cut short), 408,
//!   425, 429, 5xx, a request held back by the upstream's pause, a vendor's throttle signal, and
//!   rejected credentials (401/403, a missing key). An expired Nylas *grant* is not one: the
//!   worker pauses that grant alone. Everything else (400, 404, 409, 422, an unusable answer, a
//!   mapping error) belongs to the event.
//! - An upstream-level failure is **upstream-wide** when
//!   1. the upstream throttles (429 or a vendor's throttle) or rejects the credentials: it says
//!      so for every request;
//!   2. or nothing answered at all (unreachable): the event cannot cause that;
//!   3. or the upstream is already backed off: the request was held back by the pause, was in
//!      flight when the back-off began, or is the probe after a back-off;
//!   4. or upstream-level failures of **two different events** happened within `retry_max` of
//!      each other with no healthy answer from the upstream in between.
//!
//!   Otherwise (only this event has seen the upstream fail since it last answered healthily) the
//!   failure is the **event's**: it counts against `max_attempts`, with the event's own backoff
//!   or the `Retry-After` it was given.
//! - An upstream-wide failure never counts against the job. Unless the upstream is already backed
//!   off, it backs the whole upstream off: its [`UpstreamGate`] is paused for the time the upstream
//!   asked (`Retry-After`), else for an exponential back-off with jitter that doubles with each
//!   consecutive back-off, from `retry_initial` up to `retry_max`. The job is rescheduled for
//!   the end of the pause.
//! - While an upstream is paused, workers claim nothing ([`Admission::Hold`]: every job may need
//!   both upstreams), and requests already under way wait a short pause out or fail fast without
//!   being sent (the gate). After a back-off the upstream is *recovering*: one job at a time is let
//!   through ([`Admission::Probe`]) until the upstream gives a healthy answer (or a job succeeds
//!   without needing it).
//! - A **healthy answer** is a success or a client error about the request itself (a 404 or a
//!   422 proves the upstream is up), recorded on the gate by the client that got it (any job,
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

use crate::crm::CrmError;
use crate::nylas::NylasError;
use crate::retry::gate::UpstreamGate;
use crate::retry::{Backoff, Retry, classify_transport, is_unreachable};

/// An outbound upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    /// The CRM the adapter writes to.
    Crm,
    /// The Nylas API.
    Nylas,
}

/// An upstream-level failure (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The upstream asked calsync to slow down (429, a vendor's throttle), for this long if it
    /// said.
    Throttled(Option<Duration>),
    /// The request was not sent: the upstream is paused for this long.
    HeldBack(Duration),
    /// Nothing answered (connection refused or reset, DNS, TLS).
    Unreachable,
    /// A server error, 408 or 425, a timeout or a body cut short; with `Retry-After` if given.
    Failing(Option<Duration>),
    /// The upstream rejected calsync's credentials.
    Auth,
}

impl Signal {
    /// The time the upstream asked for, if any.
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
    /// The upstream is failing for everyone: do not count the attempt; retry when it resumes.
    UpstreamWide {
        /// How long until the upstream is let through again.
        resume_in: Duration,
        /// True when this failure backed the upstream off (further); false when the upstream was
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
    /// An upstream is recovering from a back-off: one job at a time until it answers healthily.
    Probe,
    /// An upstream is paused for this long: claim nothing.
    Hold(Duration),
}

/// The circuit breaker over the CRM and Nylas (the upstreams), shared by every worker of the
/// process.
pub struct Breaker {
    crm: UpstreamState,
    nylas: UpstreamState,
    backoff: Backoff,
}

struct UpstreamState {
    gate: UpstreamGate,
    /// `Some(kind)` for the CRM (the `crm.kind` log field).
    crm_kind: Option<&'static str>,
    track: Mutex<Track>,
}

/// What the tracker knows about an upstream since its last healthy answer.
#[derive(Debug, Default)]
struct Track {
    /// The gate's success count when last looked at.
    seen: u64,
    /// Events that hit an upstream-level failure, with when (the latest per event; two suffice).
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

impl Breaker {
    /// Tracks the CRM (of adapter kind `crm_kind`) through `crm` and Nylas through `nylas`,
    /// backing a failing upstream off with `backoff`.
    pub fn new(
        crm: UpstreamGate,
        crm_kind: &'static str,
        nylas: UpstreamGate,
        backoff: Backoff,
    ) -> Self {
        Breaker {
            crm: UpstreamState::new(crm, Some(crm_kind)),
            nylas: UpstreamState::new(nylas, None),
            backoff,
        }
    }

    /// The upstream's name (`crm:<kind>`, `nylas`), as in metrics.
    pub fn label(&self, upstream: Upstream) -> &str {
        self.upstream(upstream).gate.label()
    }

    /// Whether workers may claim jobs now.
    pub fn admission(&self) -> Admission {
        let mut hold = Duration::ZERO;
        let mut probe = false;
        for state in [&self.crm, &self.nylas] {
            let mut track = state.lock();
            state.refresh(&mut track);
            hold = hold.max(state.gate.remaining());
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

    /// Records that a job succeeded. A job that did not need a recovering upstream (an unchanged
    /// record, a payload trusted without fetching) proves nothing about it, but must not keep
    /// the pool at one job at a time forever: the upstream stops *recovering* once its pause is
    /// over (its back-off level stays until it answers healthily).
    pub fn job_succeeded(&self) {
        for state in [&self.crm, &self.nylas] {
            let mut track = state.lock();
            state.refresh(&mut track);
            if track.recovering && state.gate.remaining().is_zero() {
                track.recovering = false;
            }
        }
    }

    /// Decides about an upstream-level failure of the job of `key` (see the module docs), backing
    /// the upstream off when it fails for everyone.
    pub fn failure(&self, upstream: Upstream, key: &str, signal: Signal) -> Verdict {
        let state = self.upstream(upstream);
        let now = Instant::now();
        let mut track = state.lock();
        state.refresh(&mut track);
        let in_backoff = track.backed_off_until.is_some_and(|until| until > now);
        if in_backoff || matches!(signal, Signal::HeldBack(_)) {
            if let Some(asked) = signal.asked() {
                state.gate.pause_for(asked);
            }
            track.recovering = true;
            let held = match signal {
                Signal::HeldBack(wait) => wait,
                _ => Duration::ZERO,
            };
            return Verdict::UpstreamWide {
                resume_in: state.gate.remaining().max(held),
                backed_off: false,
            };
        }
        let upstream_wide = match signal {
            Signal::Throttled(_) | Signal::Unreachable | Signal::Auth => true,
            Signal::Failing(_) => track.recovering || track.note(key, now, self.backoff.max) >= 2,
            Signal::HeldBack(_) => true,
        };
        if !upstream_wide {
            return Verdict::ThisEvent;
        }
        track.level = track.level.saturating_add(1);
        let pause = signal
            .asked()
            .unwrap_or_else(|| self.backoff.delay(track.level));
        let resume_in = state.gate.pause_for(pause);
        track.backed_off_until = Some(now + resume_in);
        track.recovering = true;
        track.failing.clear();
        state.log_back_off(signal, resume_in, track.level);
        Verdict::UpstreamWide {
            resume_in,
            backed_off: true,
        }
    }

    fn upstream(&self, upstream: Upstream) -> &UpstreamState {
        match upstream {
            Upstream::Crm => &self.crm,
            Upstream::Nylas => &self.nylas,
        }
    }
}

impl UpstreamState {
    fn new(gate: UpstreamGate, crm_kind: Option<&'static str>) -> Self {
        let seen = gate.successes();
        UpstreamState {
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

    /// Forgets every failure once the upstream answered healthily since the last look.
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
        // `crm.kind` only on the CRM's lines (conventions.md); `service` names the upstream.
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

/// The upstream-level signal of a CRM failure, if it is one (see the module docs).
pub fn crm_signal(error: &CrmError) -> Option<Signal> {
    match error {
        CrmError::Status { status, retry, .. } => status_signal(*status, *retry),
        CrmError::Transport { source, .. } => transport_signal(source),
        CrmError::HeldBack { wait, .. } => Some(Signal::HeldBack(*wait)),
        CrmError::Shared(inner) => crm_signal(inner),
        CrmError::Redirected {
            redirect, retry, ..
        } => status_signal(redirect.status, *retry),
        CrmError::Protocol { .. } | CrmError::TooLarge { .. } | CrmError::Io { .. } => None,
    }
}

/// The upstream-level signal of a Nylas failure, if it is one (see the module docs).
pub fn nylas_signal(error: &NylasError) -> Option<Signal> {
    match error {
        NylasError::MissingApiKey { .. } => Some(Signal::Auth),
        NylasError::Status { status, retry, .. } => status_signal(*status, *retry),
        NylasError::Transport { source, .. } => transport_signal(source),
        NylasError::HeldBack { wait, .. } => Some(Signal::HeldBack(*wait)),
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
