//! When reconciliation passes run: a full pass at start-up and then every `interval` (start to
//! start; a pass that overruns is followed at once by the next), and between full passes a
//! check every `resume_check` for grants re-authenticated since (`grant.updated`), so their gap
//! is re-read within seconds rather than at the next interval.
//!
//! Invariants: passes never overlap (one loop runs them in turn); cancelling the stop token ends
//! the loop promptly, abandoning a pass in progress (passes are safe to abandon: a watermark only
//! advances after its calendar was listed completely). Timing uses tokio time, so tests drive it
//! with paused time.

use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The two kinds of pass.
#[async_trait]
pub trait Passes: Send + Sync {
    /// Reconciles every grant.
    async fn full(&self);
    /// Reconciles grants that were paused and are active again.
    async fn resumed(&self);
}

/// How often passes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Between the starts of two full passes (non-zero).
    pub interval: Duration,
    /// Between checks for resumed grants.
    pub resume_check: Duration,
}

impl Schedule {
    /// The schedule for `interval`: resumed grants are checked every 30 s, or every interval
    /// if that is shorter.
    pub fn for_interval(interval: Duration) -> Schedule {
        Schedule {
            interval,
            resume_check: interval.min(Duration::from_secs(30)),
        }
    }
}

/// Runs passes on `schedule` until `stop` is cancelled.
pub async fn run(passes: &dyn Passes, schedule: Schedule, stop: &CancellationToken) {
    let interval = schedule.interval.max(Duration::from_millis(1));
    let resume_check = schedule.resume_check.max(Duration::from_millis(1));
    let mut next_full = Instant::now();
    let mut next_check = next_full + resume_check;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep_until(next_full.min(next_check)) => {}
        }
        let started = Instant::now();
        let pass = async {
            if started >= next_full {
                passes.full().await;
                true
            } else {
                passes.resumed().await;
                false
            }
        };
        let was_full = tokio::select! {
            _ = stop.cancelled() => return,
            was_full = pass => was_full,
        };
        if was_full {
            next_full = started + interval;
        }
        next_check = Instant::now() + resume_check;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Default)]
    struct Recorder {
        start: Mutex<Option<Instant>>,
        passes: Mutex<Vec<(&'static str, u64)>>,
        full_takes: Duration,
    }

    impl Recorder {
        fn record(&self, kind: &'static str) {
            let start = *self.start.lock().unwrap().get_or_insert_with(Instant::now);
            let at = Instant::now().duration_since(start).as_secs();
            self.passes.lock().unwrap().push((kind, at));
        }
    }

    #[async_trait]
    impl Passes for Recorder {
        async fn full(&self) {
            self.record("full");
            tokio::time::sleep(self.full_takes).await;
        }
        async fn resumed(&self) {
            self.record("resumed");
        }
    }

    async fn run_for(recorder: Arc<Recorder>, schedule: Schedule, for_: Duration) {
        let stop = CancellationToken::new();
        let task = {
            let stop = stop.clone();
            let recorder = recorder.clone();
            tokio::spawn(async move { run(recorder.as_ref(), schedule, &stop).await })
        };
        tokio::time::sleep(for_).await;
        stop.cancel();
        task.await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_pass_at_start_and_every_interval_with_resume_checks_between() {
        let recorder = Arc::new(Recorder::default());
        let schedule = Schedule {
            interval: Duration::from_secs(100),
            resume_check: Duration::from_secs(30),
        };
        run_for(recorder.clone(), schedule, Duration::from_secs(250)).await;
        let passes = recorder.passes.lock().unwrap().clone();
        assert_eq!(
            passes,
            vec![
                ("full", 0),
                ("resumed", 30),
                ("resumed", 60),
                ("resumed", 90),
                ("full", 100),
                ("resumed", 130),
                ("resumed", 160),
                ("resumed", 190),
                ("full", 200),
                ("resumed", 230),
            ]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn an_overrunning_pass_is_followed_at_once_and_never_overlapped() {
        let recorder = Arc::new(Recorder {
            full_takes: Duration::from_secs(150),
            ..Recorder::default()
        });
        let schedule = Schedule {
            interval: Duration::from_secs(100),
            resume_check: Duration::from_secs(1000),
        };
        run_for(recorder.clone(), schedule, Duration::from_secs(320)).await;
        let passes = recorder.passes.lock().unwrap().clone();
        assert_eq!(passes, vec![("full", 0), ("full", 150), ("full", 300)]);
    }

    #[tokio::test(start_paused = true)]
    async fn stopping_ends_the_loop_even_during_a_pass() {
        let recorder = Arc::new(Recorder {
            full_takes: Duration::from_secs(3600),
            ..Recorder::default()
        });
        run_for(
            recorder.clone(),
            Schedule::for_interval(Duration::from_secs(900)),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(recorder.passes.lock().unwrap().len(), 1);
        assert_eq!(
            Schedule::for_interval(Duration::from_secs(900)).resume_check,
            Duration::from_secs(30)
        );
        assert_eq!(
            Schedule::for_interval(Duration::from_secs(10)).resume_check,
            Duration::from_secs(10)
        );
    }
}
