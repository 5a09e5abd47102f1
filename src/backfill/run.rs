//! One backfill run: grants → calendars → pages of events, grants processed concurrently, each
//! page enqueued and then run inline, a checkpoint stored after each completed page.
//!
//! Invariants:
//! - A calendar's checkpoint advances only after every event of the page was enqueued and run
//!   (or handed to `serve`), so a re-run never skips an event it did not handle; it may redo
//!   the page it was in, which costs no CRM write for events already written.
//! - One failing calendar does not stop its grant; a grant-wide problem (its credentials, the
//!   CRM's credentials, the store, or the CRM failing event after event) stops that grant; one
//!   grant never stops another.
//! - A saved page token Nylas no longer accepts (a permanent 4xx) restarts that calendar from its
//!   first page instead of failing it.
//! - When every selected calendar was read to its end, the run's checkpoints are deleted and
//!   each calendar without a reconciliation watermark gets the time its listing started.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::args::BackfillOptions;
use super::checkpoint::{Checkpoint, calendar_key, run_prefix};
use super::inline::{Inline, InlineError};
use super::progress::{EventOutcome, Progress, SkipReason};
use crate::clock::Clock;
use crate::nylas::models::{Calendar, Grant};
use crate::store::{GrantStatus, JobSource, Store};
use crate::sweep::listing::{self, ListError, Lister};
use crate::sweep::watermark;

/// Events in a row still failing after retries before a grant is stopped (the CRM is down).
const MAX_CONSECUTIVE_RETRYING: u32 = 3;

/// Everything the grant tasks share.
pub(super) struct Context {
    pub options: BackfillOptions,
    pub run_prefix: String,
    pub lister: Lister,
    pub inline: Inline,
    pub store: Arc<dyn Store>,
    pub progress: Progress,
    pub clock: Clock,
    pub stop: CancellationToken,
}

/// Why a calendar stopped.
enum Stop {
    /// Only this calendar failed.
    Calendar(String),
    /// The whole grant must stop.
    Grant(String),
    Interrupted,
}

impl From<InlineError> for Stop {
    fn from(error: InlineError) -> Self {
        match error {
            InlineError::Interrupted => Stop::Interrupted,
            other => Stop::Grant(crate::cause::chain(&other)),
        }
    }
}

impl From<crate::store::StoreError> for Stop {
    fn from(error: crate::store::StoreError) -> Self {
        Stop::Grant(crate::cause::chain(&error))
    }
}

impl Context {
    /// Builds the context of a run.
    pub fn new(
        options: BackfillOptions,
        lister: Lister,
        inline: Inline,
        progress: Progress,
    ) -> Context {
        Context {
            run_prefix: run_prefix(&options),
            store: inline.store.clone(),
            clock: inline.clock,
            stop: inline.stop.clone(),
            options,
            lister,
            inline,
            progress,
        }
    }
}

/// Keeps the grants the options select; a selected grant Nylas does not list is a failure.
pub(super) fn select_grants(ctx: &Context, grants: Vec<Grant>) -> Vec<Grant> {
    if ctx.options.grants.is_empty() {
        return grants;
    }
    for wanted in &ctx.options.grants {
        if !grants.iter().any(|grant| &grant.id == wanted) {
            ctx.progress
                .grant_failed(wanted, "not found among the application's grants");
        }
    }
    grants
        .into_iter()
        .filter(|grant| ctx.options.grants.contains(&grant.id))
        .collect()
}

/// Runs every grant, at most `concurrency` at a time.
pub(super) async fn run_grants(ctx: Arc<Context>, grants: Vec<Grant>) {
    ctx.progress.grants_found(grants.len());
    let slots = Arc::new(Semaphore::new(ctx.options.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    for grant in grants {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        if ctx.stop.is_cancelled() {
            break;
        }
        let ctx = ctx.clone();
        tasks.spawn(async move {
            run_grant(&ctx, &grant).await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined {
            tracing::error!(error = %crate::cause::Chain(&error), "A backfill grant task ended abnormally.");
        }
    }
}

/// Reads every selected calendar of one grant.
async fn run_grant(ctx: &Context, grant: &Grant) {
    let grant_id = grant.id.as_str();
    if !grant.is_valid() {
        tracing::warn!(grant.id = %grant_id, grant.status = ?grant.grant_status, "Skipping a grant Nylas does not report valid; re-authenticate it, then backfill it with --grant.");
        ctx.progress.grant_skipped(SkipReason::NotValid);
        return;
    }
    match ctx.store.grant_status(grant_id).await {
        Ok(GrantStatus::Active) => {}
        Ok(status) => {
            tracing::warn!(grant.id = %grant_id, status = ?status, "Skipping a grant calsync has paused (grant.expired) or deleted (grant.deleted).");
            ctx.progress.grant_skipped(SkipReason::PausedOrDeleted);
            return;
        }
        Err(error) => {
            return ctx
                .progress
                .grant_failed(grant_id, &crate::cause::chain(&error));
        }
    }
    let calendars = match ctx.lister.calendars(grant_id).await {
        Ok(calendars) => calendars,
        Err(ListError::Interrupted) => return,
        Err(error) => {
            return ctx
                .progress
                .grant_failed(grant_id, &crate::cause::chain(&error));
        }
    };
    ctx.progress
        .calendars_found(calendars.selected.len(), calendars.excluded);
    let mut all_done = true;
    for calendar in &calendars.selected {
        match run_calendar(ctx, grant_id, calendar).await {
            Ok(()) => ctx.progress.calendar_done(),
            Err(Stop::Calendar(error)) => {
                all_done = false;
                tracing::error!(grant.id = %grant_id, calendar.id = %calendar.id, error = %error, "Backfill of a calendar failed.");
                ctx.progress.calendar_failed(grant_id, &calendar.id, &error);
            }
            Err(Stop::Grant(error)) => {
                tracing::error!(grant.id = %grant_id, calendar.id = %calendar.id, error = %error, "Backfill of a grant stopped.");
                return ctx.progress.grant_failed(grant_id, &error);
            }
            Err(Stop::Interrupted) => return,
        }
    }
    if all_done {
        ctx.progress.grant_done(grant_id);
    }
}

/// Reads one calendar from its checkpoint to its end.
async fn run_calendar(ctx: &Context, grant_id: &str, calendar: &Calendar) -> Result<(), Stop> {
    let key = calendar_key(&ctx.run_prefix, grant_id, &calendar.id);
    let saved = ctx.store.get_cursor(&key).await?;
    let now = ctx.clock.now().as_second();
    let (mut token, mut listing_started) = match saved.as_deref().and_then(Checkpoint::decode) {
        Some(Checkpoint::Done { .. }) => return Ok(()),
        Some(Checkpoint::Next {
            page_token,
            listing_started,
        }) => (Some(page_token), listing_started),
        None => (None, now),
    };
    let mut resumed = token.is_some();
    loop {
        if ctx.stop.is_cancelled() {
            return Err(Stop::Interrupted);
        }
        let query = listing::event_query(&calendar.id, ctx.options.window, None, token.clone());
        let page = match ctx.lister.events(grant_id, &query).await {
            Ok(page) => page,
            Err(error) if resumed && error.is_permanent() => {
                tracing::warn!(grant.id = %grant_id, calendar.id = %calendar.id, error = %crate::cause::Chain(&error), "Nylas refused the saved page token; reading the calendar from its first page.");
                (token, resumed, listing_started) = (None, false, ctx.clock.now().as_second());
                continue;
            }
            Err(ListError::Interrupted) => return Err(Stop::Interrupted),
            Err(error) if error.is_grant_auth() => {
                return Err(Stop::Grant(crate::cause::chain(&error)));
            }
            Err(error) => return Err(Stop::Calendar(crate::cause::chain(&error))),
        };
        resumed = false;
        run_page(ctx, grant_id, &calendar.id, &page.data).await?;
        let now = ctx.clock.now();
        let Some(next) = page.next_cursor else {
            let done = Checkpoint::Done { listing_started };
            ctx.store.put_cursor(&key, &done.encode(), now).await?;
            watermark::seed(
                ctx.store.as_ref(),
                grant_id,
                &calendar.id,
                listing_started,
                now,
            )
            .await?;
            return Ok(());
        };
        let checkpoint = Checkpoint::Next {
            page_token: next.clone(),
            listing_started,
        };
        ctx.store
            .put_cursor(&key, &checkpoint.encode(), now)
            .await?;
        token = Some(next);
    }
}

/// Counts the page's events the CRM already holds as unchanged, enqueues the others, then runs
/// each of them inline.
async fn run_page(
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
    let mut retrying_in_a_row = 0u32;
    for job in &jobs {
        if ctx.stop.is_cancelled() {
            return Err(Stop::Interrupted);
        }
        let (outcome, fatal) = ctx.inline.run(&job.record_key).await?;
        ctx.progress.event(outcome);
        if let Some(fatal) = fatal {
            return Err(fatal.into());
        }
        if outcome == EventOutcome::Retrying {
            retrying_in_a_row += 1;
            if retrying_in_a_row >= MAX_CONSECUTIVE_RETRYING {
                return Err(Stop::Grant(format!(
                    "{retrying_in_a_row} events in a row still failed after retries (is the CRM down?); run the backfill again later to resume"
                )));
            }
        } else {
            retrying_in_a_row = 0;
        }
    }
    ctx.progress.page_done(grant_id, calendar_id, events.len());
    Ok(())
}
