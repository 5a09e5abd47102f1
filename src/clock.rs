//! The time source.
//!
//! Everything that decides *when* (retry schedules, leases, backoff) asks a [`Clock`] instead of
//! the operating system, and the store takes `now` as an argument. Production uses the wall
//! clock; tests use [`Clock::tokio`], whose time advances with tokio's (pausable) clock, so
//! backoff and lease expiry are tested with `tokio::time::pause`/`advance` instead of sleeps.

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
