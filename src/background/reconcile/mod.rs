//! Reconciliation inside `serve`: every `[reconcile] interval`, re-read the events that changed
//! since the last successful pass, so what webhooks missed (a failed webhook, an expired grant,
//! a lost notification) reaches the CRM within one interval.
//!
//! A pass takes the store's named lock `reconcile` (one replica runs it), lists the grants, and
//! for each grant Nylas reports valid and calsync has not paused or deleted, lists each selected
//! calendar's events in the window (`window_days.back` before to `window_days.ahead` after now)
//! updated after the calendar's watermark minus `safety_margin`, occurrences expanded and
//! cancelled events included. The events are enqueued (source `Reconcile`, payload trusted as
//! current) for the workers; the version check and content hash make unchanged events cost no
//! CRM call. The watermark advances to the pass's start only after the whole calendar listed.
//!
//! A calendar without a watermark starts from one interval before the pass: reconciliation heals
//! gaps, it does not import history (run `calsync backfill` first; a backfill also gives each
//! calendar it completes a watermark, the time its listing started). Paused grants are skipped,
//! so their watermarks stay before the expiry; when `grant.updated` resumes one, the next check
//! (every 30 s, see [`schedule`]) re-reads it from there. See [`crate::sweep::watermark`] for the floor kept
//! for paused grants without a watermark.
//!
//! Not healed: events hard-deleted while webhooks were failing (the Events API no longer lists
//! them), and changes outside the window.

mod pass;
pub mod schedule;

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::config::ReconcileSettings;
use crate::store::{Store, StoreError};
use crate::sweep::listing::{ListError, Lister};
use crate::telemetry::metrics::Metrics;
use schedule::{Passes, Schedule};

/// The store lock that makes one replica run reconciliation.
pub const LOCK: &str = "reconcile";

/// What a pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassReport {
    /// False when another replica holds the lock (or, for a resume check, nothing resumed).
    pub ran: bool,
    /// Grants whose calendars were listed (a calendar of theirs may still have failed).
    pub grants_reconciled: u64,
    /// Not valid in Nylas, or paused or deleted in calsync.
    pub grants_skipped: u64,
    /// Grants calsync has paused (`grant.expired`), seen by this pass.
    pub grants_paused: u64,
    /// Grants whose calendars could not be listed.
    pub grants_failed: u64,
    /// Calendars listed completely (their watermark advanced).
    pub calendars_reconciled: u64,
    /// Calendars whose listing failed.
    pub calendars_failed: u64,
    /// Events enqueued for the workers.
    pub events_enqueued: u64,
}

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The store failed (taking the lock, reading grants or watermarks).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The grants could not be listed.
    #[error("listing the application's grants failed")]
    Grants(#[source] ListError),
}

impl ReconcileError {
    /// True when the pass ended because the process is shutting down, not because of a fault.
    pub fn is_interruption(&self) -> bool {
        matches!(self, ReconcileError::Grants(ListError::Interrupted))
    }
}

/// Runs reconciliation passes.
pub struct Reconciler {
    store: Arc<dyn Store>,
    lister: Lister,
    settings: ReconcileSettings,
    /// `sync.series_horizon`: how far ahead series occurrences are synced.
    series_horizon: Duration,
    owner: String,
    clock: Clock,
    metrics: Arc<Metrics>,
    /// Grants the last full pass found paused in calsync: the resume checks watch them.
    paused: Mutex<BTreeSet<String>>,
}

/// What a [`Reconciler`] works with, built by the application wiring (`App::reconciler`).
pub struct ReconcilerDeps {
    /// Where jobs, watermarks, grants and the `reconcile` lock are kept.
    pub store: Arc<dyn Store>,
    /// Lists grants, calendars and events (its stop token ends Nylas retries early).
    pub lister: Lister,
    /// `[reconcile]`.
    pub settings: ReconcileSettings,
    /// `sync.series_horizon`: how far ahead series occurrences are synced.
    pub series_horizon: Duration,
    /// This process's name in the store's locks.
    pub owner: String,
    /// The time source of the window, watermarks and locks.
    pub clock: Clock,
    /// Where passes are counted.
    pub metrics: Arc<Metrics>,
}

impl Reconciler {
    /// A reconciler over `deps`.
    pub fn new(deps: ReconcilerDeps) -> Reconciler {
        Reconciler {
            store: deps.store,
            lister: deps.lister,
            settings: deps.settings,
            series_horizon: deps.series_horizon,
            owner: deps.owner,
            clock: deps.clock,
            metrics: deps.metrics,
            paused: Mutex::new(BTreeSet::new()),
        }
    }

    /// How long the lock is taken for: two intervals (at least a minute), renewed by every pass
    /// and between grants, so the holder keeps it while alive and another replica takes over
    /// within two intervals of its death.
    fn lock_ttl(&self) -> Duration {
        (self.settings.interval * 2).max(Duration::from_secs(60))
    }

    /// Grants the last full pass found paused.
    pub fn paused_grants(&self) -> BTreeSet<String> {
        self.paused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_paused(&self, grants: BTreeSet<String>) {
        *self.paused.lock().unwrap_or_else(|p| p.into_inner()) = grants;
    }

    fn unpause(&self, grant_id: &str) {
        self.paused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(grant_id);
    }

    /// Runs passes on the configured interval until `stop` is cancelled (the `serve` task).
    /// Does nothing when the interval is zero.
    pub async fn run(self, stop: CancellationToken) {
        if self.settings.interval.is_zero() {
            return;
        }
        let schedule = Schedule::for_interval(self.settings.interval);
        tracing::info!(
            interval_s = schedule.interval.as_secs(),
            "Reconciliation started."
        );
        schedule::run(&self, schedule, &stop).await;
        // The next process (a restart, a deploy) takes the lock at once rather than skipping
        // passes until it expires.
        super::periodic::release_lock(self.store.as_ref(), LOCK, &self.owner).await;
        tracing::info!("Reconciliation stopped.");
    }
}

#[async_trait]
impl Passes for Reconciler {
    async fn full(&self) {
        let started = self.clock.now();
        match self.run_once(started).await {
            Ok(report) if report.ran => {
                log_report("full", &report);
                let result = pass_result(&report);
                self.metrics
                    .reconcile_pass("full", result, report.events_enqueued);
                if result == "ok" {
                    self.metrics.reconcile_succeeded(started);
                }
            }
            Ok(_) => {
                self.metrics.reconcile_pass("full", "not_leader", 0);
                tracing::debug!("Another replica holds the reconciliation lock.");
            }
            Err(error) if error.is_interruption() => {
                tracing::info!("Reconciliation pass stopped by shutdown.");
            }
            Err(error) => {
                self.metrics.reconcile_pass("full", "error", 0);
                tracing::error!(error = %crate::cause::Chain(&error), "Reconciliation pass failed; it runs again at the next interval.")
            }
        }
    }

    async fn resumed(&self) {
        match self.run_resumed(self.clock.now()).await {
            Ok(report) if report.ran => {
                log_report("resumed", &report);
                self.metrics.reconcile_pass(
                    "resumed",
                    pass_result(&report),
                    report.events_enqueued,
                );
            }
            Ok(_) => {}
            Err(error) if error.is_interruption() => {
                tracing::info!("Reconciling resumed grants stopped by shutdown.");
            }
            Err(error) => {
                self.metrics.reconcile_pass("resumed", "error", 0);
                tracing::error!(error = %crate::cause::Chain(&error), "Reconciling resumed grants failed; retrying shortly.")
            }
        }
    }
}

/// `ok` when every grant and calendar was read, else `partial`.
fn pass_result(report: &PassReport) -> &'static str {
    if report.grants_failed == 0 && report.calendars_failed == 0 {
        "ok"
    } else {
        "partial"
    }
}

fn log_report(kind: &'static str, report: &PassReport) {
    tracing::info!(
        pass = kind,
        grants.reconciled = report.grants_reconciled,
        grants.skipped = report.grants_skipped,
        grants.paused = report.grants_paused,
        grants.failed = report.grants_failed,
        calendars.reconciled = report.calendars_reconciled,
        calendars.failed = report.calendars_failed,
        events.enqueued = report.events_enqueued,
        "Reconciliation pass done."
    );
}
