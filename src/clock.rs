//! The time source.
//!
//! Everything that decides *when* (retry schedules, leases, backoff) asks a [`Clock`] instead of
//! the operating system, and the store takes `now` as an argument. Production uses the wall
//! clock; tests use [`Clock::tokio`], whose time advances with tokio's (pausable) clock, so
//! backoff and lease expiry are tested with `tokio::time::pause`/`advance` instead of sleeps.
//!
//! Who holds the clock: [`crate::app::App`] is built with one and hands it to the worker, the
//! webhook edge, the store calls, backfill and the background tasks; the CRM transport and the
//! Nylas client carry it, so `Retry-After` dates and every adapter (the `jsonl` target's line
//! stamps included) read it from there. The binary uses [`Clock::System`] (`cli::run`); the
//! `demo` and `webhook test` commands take the clock of the app or client they drive.
//!
//! Intervals that only order events in one process (the target gate's pause, heartbeats,
//! reconciliation's schedule, drain deadlines) use [`tokio::time::Instant`], which is monotonic
//! and follows paused time too. The wall clock and [`std::time::Instant`] are read directly in
//! one kind of place only: measuring or stamping for humans, where no decision depends on the
//! value — request latency (`http::trace`, the webhook handler's ingest histogram), backfill
//! progress rates, the webhook test's delivery time, a JSON log line's `timestamp`, and the log
//! throttle (`telemetry::throttle`, which decides how many lines to print, never when work
//! happens).

use std::time::Duration;

use jiff::Timestamp;

/// Where the current time comes from.
#[derive(Debug, Clone, Copy)]
pub enum Clock {
    /// The operating system's wall clock.
    System,
    /// Wall time at creation plus the tokio time elapsed since; follows `tokio::time::pause`.
    Tokio {
        /// Wall time when the clock was created.
        wall_base: Timestamp,
        /// Tokio instant when the clock was created.
        instant_base: tokio::time::Instant,
    },
}

impl Clock {
    /// A clock that follows tokio's time (for tests with paused time).
    pub fn tokio() -> Self {
        Clock::Tokio {
            wall_base: Timestamp::now(),
            instant_base: tokio::time::Instant::now(),
        }
    }

    /// The current time.
    pub fn now(&self) -> Timestamp {
        match self {
            Clock::System => Timestamp::now(),
            Clock::Tokio {
                wall_base,
                instant_base,
            } => {
                let elapsed = instant_base.elapsed();
                wall_base.checked_add(elapsed).unwrap_or(Timestamp::MAX)
            }
        }
    }

    /// How long from now until `at` (zero if `at` is in the past).
    pub fn until(&self, at: Timestamp) -> Duration {
        let now = self.now();
        if at <= now {
            return Duration::ZERO;
        }
        Duration::try_from(at.duration_since(now)).unwrap_or(Duration::ZERO)
    }
}

/// `at + duration`, saturating at the end of representable time.
pub fn add(at: Timestamp, duration: Duration) -> Timestamp {
    at.checked_add(duration).unwrap_or(Timestamp::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clock_follows_paused_time() {
        let clock = Clock::tokio();
        let before = clock.now();
        tokio::time::advance(Duration::from_secs(90)).await;
        let after = clock.now();
        assert_eq!(after.duration_since(before).as_secs(), 90);
        assert_eq!(
            clock.until(add(after, Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(clock.until(before), Duration::ZERO);
    }
}
