//! One page of a backfill: count the events the CRM already holds as unchanged, enqueue the
//! others, then run their jobs inline — several at a time when the CRM writes in batches, so a
//! batch can fill.
//!
//! Invariants: every job of the page has finished (written, failed, or handed to `serve`)
//! before this returns, also when one of them stops the grant: no new job starts after a fatal
//! error or the stop token, but those already running are awaited, never dropped half way. At
//! most [`Inline::jobs_in_flight`] jobs of a page run at once; with an adapter that writes one
//! record per request that is 1, the order of a sequential run. The count of events in a row
//! still failing after retries follows the order in which jobs finish.

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use super::inline::{InlineError, InlineResult};
use super::progress::EventOutcome;
use super::run::{Context, Stop};
use crate::store::{JobRequest, JobSource, StoreError};
use crate::sweep::listing;

/// Events in a row still failing after retries before a grant is stopped (the CRM is down).
const MAX_CONSECUTIVE_RETRYING: u32 = 3;

/// Counts the page's events the CRM already holds as unchanged, enqueues the others, then runs
/// each of them inline.
pub(super) async fn run_page(
    ctx: &Context,
    grant_id: &str,
    calendar_id: &str,
    events: &[crate::nylas::Event],
) -> Result<(), Stop> {
    let horizon = ctx.inline.series.settings().horizon.as_secs();
    let horizon_end = ctx
        .clock
        .now()
        .as_second()
        .saturating_add(i64::try_from(horizon).unwrap_or(i64::MAX));
    let sorted = crate::sweep::series::sort_page(
        ctx.store.as_ref(),
        events,
        grant_id,
        calendar_id,
        horizon_end,
        JobSource::Backfill,
    )
    .await?;
    // Series masters' jobs are left to `serve`'s workers, which expand them.
    ctx.store.enqueue(&sorted.refresh, ctx.clock.now()).await?;
    let mut changed = Vec::with_capacity(sorted.events.len());
    for event in &sorted.events {
        // A master is never "already current": its job expands the series.
        if !crate::worker::series::is_master(event)
            && ctx.inline.already_current(event, grant_id).await?
        {
            ctx.progress
                .event(EventOutcome::Synced(crate::worker::SyncOutcome::Unchanged));
        } else {
            changed.push(event.clone());
        }
    }
    let jobs = listing::jobs_for_page(&changed, grant_id, calendar_id, JobSource::Backfill);
    ctx.store.enqueue(&jobs, ctx.clock.now()).await?;
    run_jobs(ctx, &jobs).await?;
    ctx.progress.page_done(grant_id, calendar_id, events.len());
    Ok(())
}

/// Runs the page's jobs, at most [`Inline::jobs_in_flight`] at a time, and returns the first
/// reason to stop once every started job has finished.
///
/// [`Inline::jobs_in_flight`]: super::inline::Inline::jobs_in_flight
async fn run_jobs(ctx: &Context, jobs: &[JobRequest]) -> Result<(), Stop> {
    let limit = ctx.inline.jobs_in_flight();
    let mut pending = jobs.iter();
    let mut running = FuturesUnordered::new();
    let mut stop: Option<Stop> = None;
    let mut retrying_in_a_row = 0u32;
    loop {
        while stop.is_none() && running.len() < limit {
            if ctx.stop.is_cancelled() {
                stop = Some(Stop::Interrupted);
                break;
            }
            let Some(job) = pending.next() else { break };
            running.push(ctx.inline.run(&job.record_key));
        }
        let Some(finished) = running.next().await else {
            break;
        };
        let reason = settle(ctx, finished, &mut retrying_in_a_row);
        if stop.is_none() {
            stop = reason;
        }
    }
    stop.map_or(Ok(()), Err)
}

/// Counts one finished job and says whether the grant must stop.
fn settle(
    ctx: &Context,
    finished: Result<InlineResult, StoreError>,
    retrying_in_a_row: &mut u32,
) -> Option<Stop> {
    let (outcome, fatal) = match finished {
        Ok(result) => result,
        Err(error) => return Some(error.into()),
    };
    ctx.progress.event(outcome);
    if let Some(fatal) = fatal {
        return Some(Stop::from(fatal));
    }
    if outcome == EventOutcome::Retrying {
        *retrying_in_a_row += 1;
        if *retrying_in_a_row >= MAX_CONSECUTIVE_RETRYING {
            return Some(Stop::Grant(format!(
                "{retrying_in_a_row} events in a row still failed after retries (is the CRM down?); run the backfill again later to resume"
            )));
        }
    } else {
        *retrying_in_a_row = 0;
    }
    None
}

impl From<InlineError> for Stop {
    fn from(error: InlineError) -> Self {
        match error {
            InlineError::Interrupted => Stop::Interrupted,
            other => Stop::Grant(crate::cause::chain(&other)),
        }
    }
}
