//! The queue policy: how long an enqueued job waits for more changes to its event before it is
//! due (coalescing), given to a backend when it is opened.
//!
//! The rule both backends apply in SQL on every enqueue, with `now` the enqueue's time:
//! - `burst_started_at` is the time of the first enqueue of content not yet claimed; later
//!   enqueues keep it, a claim clears it (the claimed content is on its way; whatever arrives
//!   during the run starts a new burst).
//! - The job is due at `min(now + window, burst_started_at + max_delay)`, where `window` depends
//!   on the request's source ([`QueuePolicy::window_for`]): each change pushes the job back by
//!   the window until the event has been quiet for a window, but never past `max_delay` after
//!   the burst began.
//!
//! Invariants: the window only ever applies to new content. A retry keeps exactly the schedule
//! its [`RetryPlan`](super::RetryPlan) names, a release makes the job due at once, and new
//! content that replaces a job waiting for a retry starts a new burst (new content is never held
//! to the old content's retry time, as before coalescing). A zero window (the default of
//! [`QueuePolicy::IMMEDIATE`]) makes every job due at its enqueue, as without coalescing.

use std::time::Duration;

use super::JobSource;

/// How enqueued jobs wait for more changes. Copy, plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePolicy {
    /// How long an event must be quiet before its job is due (`sync.coalesce_window`).
    pub coalesce_window: Duration,
    /// The longest a job waits after the first change of its burst
    /// (`sync.coalesce_max_delay`).
    pub coalesce_max_delay: Duration,
}

impl QueuePolicy {
    /// No waiting: every job is due when enqueued (commands, tests that drain queues).
    pub const IMMEDIATE: QueuePolicy = QueuePolicy {
        coalesce_window: Duration::ZERO,
        coalesce_max_delay: Duration::ZERO,
    };

    /// The window a request from `source` waits. Notifications (live or replayed) arrive in
    /// bursts and wait; the other sources do not: a backfill or reconciliation listing is
    /// already the event's current state (and a backfill wants throughput, not latency), and an
    /// operator retrying dead letters expects them to run now.
    pub fn window_for(&self, source: JobSource) -> Duration {
        match source {
            JobSource::Webhook | JobSource::Replay => self.coalesce_window,
            JobSource::Backfill | JobSource::Reconcile | JobSource::DeadLetterRetry => {
                Duration::ZERO
            }
        }
    }

    /// [`Self::window_for`] in milliseconds, for binding.
    pub(crate) fn window_millis(&self, source: JobSource) -> i64 {
        duration_millis(self.window_for(source))
    }

    /// The maximum delay in milliseconds, for binding.
    pub(crate) fn max_delay_millis(&self) -> i64 {
        duration_millis(self.coalesce_max_delay)
    }
}

fn duration_millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_notifications_wait() {
        let policy = QueuePolicy {
            coalesce_window: Duration::from_secs(1),
            coalesce_max_delay: Duration::from_secs(10),
        };
        assert_eq!(policy.window_millis(JobSource::Webhook), 1000);
        assert_eq!(policy.window_millis(JobSource::Replay), 1000);
        for source in [
            JobSource::Backfill,
            JobSource::Reconcile,
            JobSource::DeadLetterRetry,
        ] {
            assert_eq!(policy.window_millis(source), 0);
        }
        assert_eq!(policy.max_delay_millis(), 10_000);
        assert_eq!(QueuePolicy::IMMEDIATE.window_millis(JobSource::Webhook), 0);
    }
}
