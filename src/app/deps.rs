//! The explicit dependencies [`App`] builds for its narrower callers: the components that sweep
//! Nylas (reconciliation and backfill) and `calsync replay`. Each takes exactly the store,
//! clients, settings and metrics it uses, never the whole [`App`].
//!
//! Invariant: these are built from the same settings, clients and store as the worker pool, so
//! a backfill or reconciliation pass writes through the same write path with the same retry
//! policy, series horizon and calendar selection as `serve`.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::{App, retry_policy};
use crate::backfill::BackfillDeps;
use crate::background::reconcile::{Reconciler, ReconcilerDeps};
use crate::clock::Clock;
use crate::store::Store;
use crate::sweep::listing::Lister;

impl App {
    /// A lister of grants, calendars and events with `[sync]`'s backoff and calendar selection;
    /// its retries end early when `stop` is cancelled.
    fn lister(&self, stop: CancellationToken) -> Lister {
        let sync = &self.settings.sync;
        Lister::new(
            self.parts.nylas.clone(),
            retry_policy(&self.settings).backoff,
            sync.calendars,
            sync.exclude_read_only_calendars,
            stop,
        )
    }

    /// The reconciler of `serve` (`[reconcile]`); its Nylas retries end early when `stop` is
    /// cancelled.
    pub fn reconciler(&self, stop: CancellationToken) -> Reconciler {
        Reconciler::new(ReconcilerDeps {
            store: self.parts.store.clone(),
            lister: self.lister(stop),
            settings: self.settings.reconcile.clone(),
            series_horizon: self.settings.sync.series_horizon,
            owner: self.parts.owner.clone(),
            clock: self.parts.clock,
            metrics: self.parts.metrics.clone(),
        })
    }

    /// What `calsync backfill` runs with.
    pub fn backfill_deps(&self) -> BackfillDeps {
        let sync = &self.settings.sync;
        BackfillDeps {
            store: self.parts.store.clone(),
            nylas: self.parts.nylas.clone(),
            processor: self.parts.processor.clone(),
            series: self.series(),
            policy: retry_policy(&self.settings),
            lease_for: sync.lease,
            calendars: sync.calendars,
            exclude_read_only_calendars: sync.exclude_read_only_calendars,
            clock: self.parts.clock,
        }
    }
}

/// What `calsync replay` runs with: the store holding the notification log, and the clock.
pub struct ReplayDeps {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The time source (when the replayed jobs are due).
    pub clock: Clock,
}

impl App {
    /// What `calsync replay` runs with.
    pub fn replay_deps(&self) -> ReplayDeps {
        ReplayDeps {
            store: self.parts.store.clone(),
            clock: self.parts.clock,
        }
    }
}
