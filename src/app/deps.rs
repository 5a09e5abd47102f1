//! The explicit dependencies [`App`] builds for the components that sweep Nylas (reconciliation
//! and backfill): each takes exactly the store, clients, settings and metrics it uses, never the
//! whole [`App`].
//!
//! Invariant: these are built from the same settings, clients and store as the worker pool, so
//! a backfill or reconciliation pass writes through the same write path with the same retry
//! policy, series horizon and calendar selection as `serve`.

use tokio_util::sync::CancellationToken;

use super::App;
use crate::backfill::BackfillDeps;
use crate::background::reconcile::{Reconciler, ReconcilerDeps};
use crate::sweep::listing::Lister;

impl App {
    /// A lister of grants, calendars and events with `[sync]`'s backoff and calendar selection;
    /// its retries end early when `stop` is cancelled.
    fn lister(&self, stop: CancellationToken) -> Lister {
        let sync = &self.settings.sync;
        Lister::new(
            self.nylas.clone(),
            self.retry_policy().backoff,
            sync.calendars,
            sync.exclude_read_only_calendars,
            stop,
        )
    }

    /// The reconciler of `serve` (`[reconcile]`); its Nylas retries end early when `stop` is
    /// cancelled.
    pub fn reconciler(&self, stop: CancellationToken) -> Reconciler {
        Reconciler::new(ReconcilerDeps {
            store: self.store.clone(),
            lister: self.lister(stop),
            settings: self.settings.reconcile.clone(),
            series_horizon: self.settings.sync.series_horizon,
            owner: self.owner.clone(),
            clock: self.clock,
            metrics: self.metrics.clone(),
        })
    }

    /// What `calsync backfill` runs with.
    pub fn backfill_deps(&self) -> BackfillDeps {
        let sync = &self.settings.sync;
        BackfillDeps {
            store: self.store.clone(),
            nylas: self.nylas.clone(),
            processor: self.processor.clone(),
            series: self.series(),
            policy: self.retry_policy(),
            lease_for: sync.lease,
            calendars: sync.calendars,
            exclude_read_only_calendars: sync.exclude_read_only_calendars,
            clock: self.clock,
        }
    }
}
