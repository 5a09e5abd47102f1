//! Pruning the notification log while serving (a background task of `serve`).
//!
//! Every accepted notification is kept (raw body, id, type, received time) so that
//! `calsync replay` can re-enqueue it; after `store.keep_notifications` it is deleted. The
//! [`Pruner`] runs once when `serve` starts and then every [`PRUNE_EVERY`].
//!
//! Invariants: only the notification log is pruned (jobs, sync state and dead letters are never
//! touched, so pruning cannot lose work); the cut-off is computed from the [`Clock`] at each run;
//! pruning is idempotent, so several replicas may run it without coordinating; a failed run is
//! logged and retried at the next tick, never fatal.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::{Store, StoreError};
use crate::telemetry::metrics::Metrics;

/// How often the notification log is pruned.
pub const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// The oldest receipt time kept when pruning at `now` with retention `keep`.
pub fn prune_cutoff(now: Timestamp, keep: Duration) -> Timestamp {
    now.checked_sub(keep).unwrap_or(Timestamp::MIN)
}

/// Prunes the notification log on a schedule.
pub struct Pruner {
    store: Arc<dyn Store>,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// `store.keep_notifications`.
    keep: Duration,
    every: Duration,
}

impl Pruner {
    /// A pruner keeping notifications for `keep`, running every `every`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        metrics: Arc<Metrics>,
        keep: Duration,
        every: Duration,
    ) -> Self {
        Pruner {
            store,
            clock,
            metrics,
            keep,
            every: every.max(Duration::from_millis(1)),
        }
    }

    /// Deletes the notifications received more than `keep` ago; returns how many, and logs it.
    pub async fn prune_once(&self) -> Result<u64, StoreError> {
        let before = prune_cutoff(self.clock.now(), self.keep);
        let pruned = self.store.prune_notifications(before).await?;
        self.metrics.notifications_pruned(pruned);
        if pruned > 0 {
            tracing::info!(
                pruned,
                before = %before,
                "Pruned notifications older than store.keep_notifications from the notification log."
            );
        } else {
            tracing::debug!(before = %before, "No notification was old enough to prune.");
        }
        Ok(pruned)
    }

    /// Prunes now, then every `every`, until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        super::periodic::every(self.every, &stop, || async {
            if let Err(error) = self.prune_once().await {
                tracing::warn!(error = %crate::cause::Chain(&error), "Could not prune the notification log; trying again at the next run.");
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cutoff_is_keep_before_now_and_saturates() {
        let now = Timestamp::from_second(10 * 86_400).unwrap();
        let keep = Duration::from_secs(7 * 86_400);
        assert_eq!(
            prune_cutoff(now, keep),
            Timestamp::from_second(3 * 86_400).unwrap()
        );
        assert_eq!(prune_cutoff(now, Duration::ZERO), now);
        assert_eq!(
            prune_cutoff(Timestamp::MIN, Duration::from_secs(1)),
            Timestamp::MIN
        );
    }
}
