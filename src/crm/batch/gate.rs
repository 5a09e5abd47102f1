//! When a batch has waited long enough: [`BatchGate`] knows how many jobs are running against a
//! batching adapter and how many of them already wait on one of its batches, so an open batch is
//! sent the moment no running job can still join it, instead of at the end of a fixed linger.
//!
//! Why: a job reaches its CRM write only after its own reads (the Nylas fetch, capped at
//! `nylas.requests_per_second`; the store), so in a burst the jobs of one claim reach the batcher
//! spread over seconds, not milliseconds. A fixed linger either sends batches of one (short) or
//! delays a lone change (long). With the gate, the linger is only the upper bound: a lone job's
//! write goes at once (nobody else is running), and a claimed burst fills its batch as its jobs
//! arrive.
//!
//! Counts, kept by guards so every exit path (error, panic, cancellation) undoes its own:
//! - *running*: jobs the worker pool or a backfill runs ([`BatchGate::job_started`]; a
//!   backfill counts each attempt, not the retry delay between attempts);
//! - *parked*: running jobs waiting for a meeting lock, whose holder may itself wait on this
//!   batch, and therefore not expected soon ([`BatchGate::park`]);
//! - *waiting*: items the batchers have received and not answered yet (open, deferred or sent).
//!
//! A batch may go early when `running > 0` and `waiting + parked >= running`: every running job
//! is accounted for. With no registered job (a direct caller, a test), the gate never decides
//! and the linger alone applies. Items are counted when the batcher *receives* them, so an item
//! still in the channel keeps its job "on the way" and cannot be left behind by an early send.

use std::sync::Arc;

use tokio::sync::watch;

/// The counts of one adapter's jobs and items; see the module documentation.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    running: usize,
    parked: usize,
    waiting: usize,
}

impl Counts {
    /// Whether no running job can still bring an item.
    fn all_arrived(&self) -> bool {
        self.running > 0 && self.waiting + self.parked >= self.running
    }
}

/// The running jobs and waiting items of one batching adapter, shared by its batchers.
#[derive(Debug)]
pub struct BatchGate {
    counts: watch::Sender<Counts>,
}

impl Default for BatchGate {
    fn default() -> Self {
        BatchGate {
            counts: watch::Sender::new(Counts::default()),
        }
    }
}

impl BatchGate {
    /// A gate with nothing running.
    pub fn new() -> Arc<Self> {
        Arc::new(BatchGate::default())
    }

    /// Counts a job as running until the guard is dropped: its write may still join a batch.
    pub fn job_started(self: &Arc<Self>) -> RunningJob {
        self.change(|counts| counts.running += 1);
        RunningJob(self.clone())
    }

    /// Counts a running job as not expected soon until the guard is dropped (it waits for a
    /// meeting lock), so batches do not wait for it.
    pub fn park(self: &Arc<Self>) -> Parked {
        self.change(|counts| counts.parked += 1);
        Parked(self.clone())
    }

    /// Counts an item the batcher received until the guard is dropped (its answer is sent).
    pub(super) fn item_received(self: &Arc<Self>) -> WaitingItem {
        self.change(|counts| counts.waiting += 1);
        WaitingItem(self.clone())
    }

    /// Resolves once every running job is accounted for (never, while no job is registered).
    pub(super) async fn all_arrived(&self) {
        let mut counts = self.counts.subscribe();
        // The sender lives as long as `self`, so the wait ends only by the condition.
        let _ = counts.wait_for(Counts::all_arrived).await;
    }

    fn change(&self, update: impl FnOnce(&mut Counts)) {
        self.counts.send_modify(update);
    }
}

/// A job counted as running; see [`BatchGate::job_started`].
#[derive(Debug)]
pub struct RunningJob(Arc<BatchGate>);

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.0.change(|counts| counts.running -= 1);
    }
}

/// A running job counted as parked; see [`BatchGate::park`].
#[derive(Debug)]
pub struct Parked(Arc<BatchGate>);

impl Drop for Parked {
    fn drop(&mut self) {
        self.0.change(|counts| counts.parked -= 1);
    }
}

/// An item counted as waiting for its answer.
#[derive(Debug)]
pub(super) struct WaitingItem(Arc<BatchGate>);

impl Drop for WaitingItem {
    fn drop(&mut self) {
        self.0.change(|counts| counts.waiting -= 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_opens_only_when_every_running_job_is_accounted_for() {
        let gate = BatchGate::new();
        let counts = || *gate.counts.borrow();
        assert!(
            !counts().all_arrived(),
            "nothing registered: the linger decides"
        );
        let first = gate.job_started();
        let second = gate.job_started();
        let waiting = gate.item_received();
        assert!(!counts().all_arrived());
        let parked = gate.park();
        assert!(counts().all_arrived());
        drop(parked);
        assert!(!counts().all_arrived());
        drop(second);
        assert!(counts().all_arrived());
        drop((waiting, first));
        assert!(!counts().all_arrived());
        assert_eq!(counts().running + counts().parked + counts().waiting, 0);
    }
}
