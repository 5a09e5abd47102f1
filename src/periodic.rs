//! Running a task now and then every interval until cancelled: the loop shared by `serve`'s
//! periodic maintenance (notification pruning, the webhook monitor).
//!
//! Invariants: a run is never cut short by a tick (runs do not overlap); a run that takes longer
//! than the interval delays the next instead of bunching them up; cancellation ends the loop
//! between runs or during one.

use std::future::Future;
use std::time::Duration;

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
