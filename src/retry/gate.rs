//! [`UpstreamGate`]: the switch that holds back every request to one upstream (the CRM, or
//! Nylas) while it is throttling calsync or failing for everyone, and the count of healthy
//! answers that tells the worker the upstream works again.
//!
//! One gate per upstream, shared by every clone of the client that talks to it (all workers,
//! backfill, commands), so a pause set by any caller holds back all of them.
//!
//! Invariants:
//! - A pause only ever grows: [`UpstreamGate::pause_for`] extends the current pause, never
//!   shortens it (a short `Retry-After` cannot cut short a longer back-off).
//! - Time is tokio's ([`tokio::time::Instant`]), so pauses are testable with paused time.
//! - `calsync_target_paused{target}` is 1 from the moment a pause is set until a caller
//!   observes that it has ended (any [`UpstreamGate::remaining`] or [`UpstreamGate::admit`] call).
//! - The success count only grows; it is a version number, not a statistic: the worker compares
//!   it with the value it saw last to learn that *some* request got a healthy answer meanwhile.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

use super::{is_healthy_status, retry_after};
use crate::telemetry::metrics::Metrics;

/// Shared by every request to one upstream. Cheap to clone; clones share the pause.
#[derive(Clone)]
pub struct UpstreamGate {
    inner: Arc<Inner>,
}

struct Inner {
    /// `crm:<kind>` or `nylas`: the metric label and the name in logs.
    label: String,
    paused_until: Mutex<Option<Instant>>,
    successes: AtomicU64,
    metrics: Option<Arc<Metrics>>,
}

impl std::fmt::Debug for UpstreamGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamGate")
            .field("upstream", &self.inner.label)
            .field("remaining", &self.peek_remaining())
            .finish()
    }
}

impl UpstreamGate {
    /// An open gate for the upstream named `label` (`crm:<kind>`, `nylas`), reporting its state
    /// in `calsync_target_paused` when `metrics` is given.
    pub fn new(label: impl Into<String>, metrics: Option<Arc<Metrics>>) -> Self {
        UpstreamGate {
            inner: Arc::new(Inner {
                label: label.into(),
                paused_until: Mutex::new(None),
                successes: AtomicU64::new(0),
                metrics,
            }),
        }
    }

    /// The upstream's name (`crm:<kind>`, `nylas`).
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Holds back every request to the upstream for `pause` from now, unless it is already
    /// paused for longer. Returns how long the upstream is now paused.
    pub fn pause_for(&self, pause: Duration) -> Duration {
        let now = Instant::now();
        let until = now + pause;
        let mut paused = self.lock();
        let until = match *paused {
            Some(current) if current >= until => current,
            _ => {
                *paused = Some(until);
                until
            }
        };
        drop(paused);
        if until > now {
            self.set_gauge(true);
        }
        until.saturating_duration_since(now)
    }

    /// How long the upstream stays paused (zero when it is not). Observing the end of a pause
    /// clears it and resets the gauge.
    pub fn remaining(&self) -> Duration {
        let now = Instant::now();
        let mut paused = self.lock();
        match *paused {
            Some(until) if until > now => until - now,
            Some(_) => {
                *paused = None;
                drop(paused);
                self.set_gauge(false);
                Duration::ZERO
            }
            None => Duration::ZERO,
        }
    }

    /// Waits for the upstream to be open when the pause ends within `max_wait`; otherwise
    /// returns at once with the time left (the caller fails the request without sending it).
    pub async fn admit(&self, max_wait: Duration) -> Result<(), Duration> {
        loop {
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Ok(());
            }
            if remaining > max_wait {
                return Err(remaining);
            }
            // The pause may have been extended while we slept: look again.
            tokio::time::sleep(remaining).await;
        }
    }

    /// Records that the upstream answered healthily (it is up and accepts calsync's requests).
    pub fn record_success(&self) {
        self.inner.successes.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes note of an answer: a 429 pauses the upstream for its `Retry-After` (read at `now`),
    /// else for `default_pause`, and returns that pause; a healthy answer is recorded.
    pub fn observe(
        &self,
        status: u16,
        headers: &HeaderMap,
        now: Timestamp,
        default_pause: Duration,
    ) -> Option<Duration> {
        if status == 429 {
            let pause = retry_after(headers, now).unwrap_or(default_pause);
            self.pause_for(pause);
            return Some(pause);
        }
        if is_healthy_status(status) {
            self.record_success();
        }
        None
    }

    /// How many healthy answers the upstream has given so far (see the module docs).
    pub fn successes(&self) -> u64 {
        self.inner.successes.load(Ordering::Relaxed)
    }

    fn peek_remaining(&self) -> Duration {
        self.lock()
            .map(|until| until.saturating_duration_since(Instant::now()))
            .unwrap_or(Duration::ZERO)
    }

    fn set_gauge(&self, paused: bool) {
        if let Some(metrics) = &self.inner.metrics {
            metrics.set_upstream_paused(&self.inner.label, paused);
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Instant>> {
        // A poisoned lock only means a panic elsewhere while holding it; the value is still a
        // plain timestamp.
        self.inner
            .paused_until
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_until_it_ends_and_never_shrinks() {
        let metrics = Arc::new(Metrics::new());
        let gate = UpstreamGate::new("crm:rest", Some(metrics.clone()));
        assert_eq!(gate.remaining(), Duration::ZERO);
        assert_eq!(
            gate.pause_for(Duration::from_secs(10)),
            Duration::from_secs(10)
        );
        assert_eq!(
            gate.pause_for(Duration::from_secs(2)),
            Duration::from_secs(10)
        );
        assert!(
            metrics
                .render()
                .contains(r#"calsync_target_paused{target="crm:rest"} 1"#)
        );

        assert_eq!(
            gate.admit(Duration::from_secs(5)).await,
            Err(Duration::from_secs(10))
        );
        let started = Instant::now();
        gate.admit(Duration::from_secs(30)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert_eq!(gate.remaining(), Duration::ZERO);
        assert!(
            metrics
                .render()
                .contains(r#"calsync_target_paused{target="crm:rest"} 0"#)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn admit_waits_out_a_pause_extended_while_waiting() {
        let gate = UpstreamGate::new("nylas", None);
        gate.pause_for(Duration::from_secs(1));
        let extender = {
            let gate = gate.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(500)).await;
                gate.pause_for(Duration::from_secs(3));
            })
        };
        let started = Instant::now();
        gate.admit(Duration::from_secs(30)).await.unwrap();
        assert_eq!(started.elapsed(), Duration::from_millis(3500));
        extender.await.unwrap();
    }

    #[test]
    fn successes_count_up() {
        let gate = UpstreamGate::new("nylas", None);
        let seen = gate.successes();
        gate.clone().record_success();
        assert_eq!(gate.successes(), seen + 1);
    }
}
