//! Running a task now and then every interval until cancelled: the loop shared by `serve`'s
//! background tasks (notification pruning, the webhook-subscription monitor); and the release of the
//! store lock such a task holds when it stops ([`release_lock`]).
//!
//! Invariants: a run is never cut short by a tick (runs do not overlap); a run that takes longer
//! than the interval delays the next instead of bunching them up; cancellation ends the loop
//! between runs or during one. Releasing a lock on the way out takes at most
//! [`RELEASE_TIMEOUT`], so a hung store cannot hold the shutdown.

use std::future::Future;
use std::time::Duration;

use crate::store::Store;

/// The longest a task waits for the store to release its lock when it stops.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(1);

/// Releases the store lock `name` held by `owner` (a task stopping cleanly), so the next process
/// takes it at once instead of after its expiry. A failure is logged: the lock then expires.
pub async fn release_lock(store: &dyn Store, name: &str, owner: &str) {
    let outcome = tokio::time::timeout(RELEASE_TIMEOUT, store.release_lock(name, owner)).await;
    match outcome {
        Ok(Ok(())) => tracing::debug!(lock = name, "Released the store lock."),
        Ok(Err(error)) => {
            tracing::warn!(lock = name, error = %crate::cause::Chain(&error), "Could not release the store lock; it expires by itself.");
        }
        Err(_) => {
            tracing::warn!(
                lock = name,
                "The store did not release the lock in time; it expires by itself."
            );
        }
    }
}

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Runs `task` at once and then every `every`, until `stop` is cancelled.
pub async fn every<F, Fut>(every: Duration, stop: &CancellationToken, mut task: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            () = task() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(start_paused = true)]
    async fn runs_at_once_then_every_interval_until_cancelled() {
        let runs = Arc::new(AtomicUsize::new(0));
        let stop = CancellationToken::new();
        let task = {
            let (runs, stop) = (runs.clone(), stop.clone());
            tokio::spawn(async move {
                every(Duration::from_secs(60), &stop, || {
                    let runs = runs.clone();
                    async move {
                        runs.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .await;
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        stop.cancel();
        task.await.unwrap();
    }
}
