//! `calsync backfill`: reads the history of every grant's calendars from the Nylas Events API
//! and brings the CRM up to date through the same write path as webhooks.
//!
//! Grants (offset paging) → their selected calendars (cursor paging, `[sync] calendars` and
//! `exclude_read_only_calendars`) → pages of events in the window (`limit=200`, occurrences of
//! recurring events expanded, cancelled events included). Each page is enqueued as jobs
//! (source `Backfill`, payload trusted as current) and each job is then run in this process when
//! no other process holds it (`inline`), so the outcome can be counted; a job held by `serve`
//! is left to it. The version check and content hash of the write path make a re-run over
//! unchanged events cost zero CRM writes.
//!
//! Submodules: [`args`] (command line and window), [`checkpoint`] (resumable runs), `inline`
//! (running a job here), `run` (the grant tasks), [`progress`] (bar or log lines, and the
//! [`Summary`]). The Nylas lists, the window and recurring series in listings are shared with
//! reconciliation and live in [`crate::sweep`].
//!
//! Batching CRMs: a backfill keeps a whole batch of a page's jobs in flight and counts each in
//! the adapter's batch gate while it runs (`crate::crm::batch`), so a batch goes out as soon as
//! every running job of the page has joined it, full or not (measured: 10,000 events into
//! HubSpot take 102 requests, 100 of them full batch upserts; a fixed 25 ms linger took 740).
//!
//! Invariants: at most `concurrency` grants are read at a time; a run is resumable from the last
//! completed page of each calendar until it completes, when its checkpoints are deleted; the
//! summary counts every event handled exactly once.

pub mod args;
pub mod checkpoint;
mod context;
mod inline;
mod page;
pub mod progress;
mod run;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use args::{ArgsError, BackfillArgs, BackfillOptions, Window};

pub use progress::{ProgressMode, Summary};

use crate::clock::Clock;
use crate::config::CalendarSelection;
use crate::nylas::NylasClient;
use crate::store::{Store, StoreError};
use crate::sweep::listing::{ListError, Lister};
use crate::worker::settle::RetryPolicy;
use crate::worker::{Processor, Series};
use context::Context;
use inline::Inline;
use progress::Progress;

/// Why a backfill could not run at all (anything narrower is counted in the [`Summary`]).
#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    /// The grants could not be listed.
    #[error("listing the application's grants failed")]
    Grants(#[source] ListError),
    /// The completed run's checkpoints could not be deleted.
    #[error("the backfill completed but its checkpoints could not be cleared")]
    Checkpoints(#[source] StoreError),
}

/// What a backfill works with, built by the application wiring (`App::backfill_deps`).
pub struct BackfillDeps {
    /// Where jobs, checkpoints, watermarks and grants are kept.
    pub store: Arc<dyn Store>,
    /// Lists grants, calendars and events.
    pub nylas: NylasClient,
    /// The write path (shared with the worker pool).
    pub processor: Arc<Processor>,
    /// What runs each job ahead of the write path (series masters are expanded).
    pub series: Series,
    /// `[sync]` retries: the backoff of Nylas listing and of jobs run here.
    pub policy: RetryPolicy,
    /// `sync.lease`: how long a job run here is held.
    pub lease_for: Duration,
    /// `sync.calendars`.
    pub calendars: CalendarSelection,
    /// `sync.exclude_read_only_calendars`.
    pub exclude_read_only_calendars: bool,
    /// The time source of schedules, leases and checkpoints.
    pub clock: Clock,
}

/// Runs a backfill with `deps`. Cancelling `stop` ends it early (after the event in hand); the
/// summary then says it was interrupted and a re-run resumes.
pub async fn run(
    deps: BackfillDeps,
    options: BackfillOptions,
    mode: ProgressMode,
    stop: CancellationToken,
) -> Result<Summary, BackfillError> {
    let lister = Lister::new(
        deps.nylas,
        deps.policy.backoff,
        deps.calendars,
        deps.exclude_read_only_calendars,
        stop.clone(),
    );
    let inline = Inline {
        store: deps.store,
        processor: deps.processor,
        series: deps.series,
        policy: deps.policy,
        owner: format!(
            "backfill-{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        lease_for: deps.lease_for,
        clock: deps.clock,
        stop,
    };
    let progress = Progress::new(mode, options.window);
    let ctx = Arc::new(Context::new(options, lister, inline, progress));
    tracing::info!(
        window = %ctx.options.window,
        grants = ?ctx.options.grants,
        concurrency = ctx.options.concurrency,
        checkpoints = %ctx.run_prefix,
        "Backfill started."
    );
    match ctx.lister.grants().await {
        Ok(grants) => {
            let grants = run::select_grants(&ctx, grants);
            run::run_grants(ctx.clone(), grants).await;
        }
        Err(ListError::Interrupted) => {}
        Err(error) => {
            ctx.progress.finish();
            return Err(BackfillError::Grants(error));
        }
    }
    if ctx.stop.is_cancelled() {
        ctx.progress.interrupted();
    }
    let summary = ctx.progress.finish();
    if summary.listing_complete() {
        ctx.store
            .delete_cursors(&ctx.run_prefix)
            .await
            .map_err(BackfillError::Checkpoints)?;
    }
    log_summary(&summary);
    Ok(summary)
}

fn log_summary(summary: &Summary) {
    tracing::info!(
        succeeded = summary.succeeded(),
        interrupted = summary.interrupted,
        grants.found = summary.grants_found,
        grants.done = summary.grants_done,
        grants.skipped_not_valid = summary.grants_skipped_not_valid,
        grants.skipped_paused = summary.grants_skipped_paused,
        grants.failed = summary.grants_failed,
        calendars.done = summary.calendars_done,
        calendars.excluded = summary.calendars_excluded,
        calendars.failed = summary.calendars_failed,
        events.seen = summary.events_seen,
        events.created = summary.created,
        events.updated = summary.updated,
        events.unchanged = summary.unchanged,
        events.deleted = summary.deleted,
        events.failed = summary.failed,
        events.handed_to_serve = summary.handed_to_serve,
        "Backfill summary."
    );
}
