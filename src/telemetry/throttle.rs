//! Throttled log lines: a flood of one kind of occurrence (rejected unauthenticated requests,
//! failed accepts) logs at most a few lines per window instead of one line per occurrence.
//!
//! Invariants: at most `per_window` occurrences are admitted in any window (windows start at the
//! first occurrence after the previous one ended); every occurrence is either admitted or
//! counted as suppressed, and the next admitted one reports how many were suppressed since the
//! previous admitted one, so the log still tells the size of the flood. (The occurrences
//! suppressed after the last admitted one are reported with the next one, whenever it comes;
//! the metrics count every occurrence at once.)

use std::sync::Mutex;
// `std` time: the throttle only decides how many log lines to print, not when work happens, so
// it is outside the `Clock` rule (see `crate::clock`); callers pass the instant, tests fix it.
use std::time::{Duration, Instant};

/// Admits at most `per_window` occurrences per `window`.
#[derive(Debug)]
pub struct LogThrottle {
    per_window: u32,
    window: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    window_start: Option<Instant>,
    admitted: u32,
    suppressed: u64,
}

impl LogThrottle {
    /// A throttle admitting `per_window` occurrences per `window` (at least one).
    pub fn new(per_window: u32, window: Duration) -> LogThrottle {
        LogThrottle {
            per_window: per_window.max(1),
            window,
            state: Mutex::new(State::default()),
        }
    }

    /// The throttle of the edge's rejection lines: five per second.
    pub fn rejections() -> LogThrottle {
        LogThrottle::new(5, Duration::from_secs(1))
    }

    /// Whether to log an occurrence at `now`: `Some(suppressed)`, the number of occurrences
    /// suppressed since the last admitted one, or `None` to stay quiet.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let expired = state
            .window_start
            .is_none_or(|start| now.saturating_duration_since(start) >= self.window);
        if expired {
            state.window_start = Some(now);
            state.admitted = 0;
        }
        if state.admitted < self.per_window {
            state.admitted += 1;
            Some(std::mem::take(&mut state.suppressed))
        } else {
            state.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_a_few_per_window_and_reports_the_rest() {
        let throttle = LogThrottle::new(2, Duration::from_secs(1));
        let start = Instant::now();
        let at = |millis: u64| start + Duration::from_millis(millis);
        assert_eq!(throttle.admit(at(0)), Some(0));
        assert_eq!(throttle.admit(at(10)), Some(0));
        for millis in 20..120 {
            assert_eq!(throttle.admit(at(millis)), None);
        }
        // The next window's first line carries the 100 suppressed ones, once.
        assert_eq!(throttle.admit(at(1_000)), Some(100));
        assert_eq!(throttle.admit(at(1_001)), Some(0));
        assert_eq!(throttle.admit(at(1_002)), None);
        assert_eq!(throttle.admit(at(5_000)), Some(1));
    }

    #[test]
    fn at_least_one_line_per_window() {
        let throttle = LogThrottle::new(0, Duration::from_secs(1));
        let now = Instant::now();
        assert_eq!(throttle.admit(now), Some(0));
        assert_eq!(throttle.admit(now), None);
    }
}
