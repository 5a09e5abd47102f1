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

use super::checkpoint::{Checkpoint, calendar_key};
use super::context::{Context, Stop};
use super::page::run_page;
use super::progress::SkipReason;
use crate::ids::GrantId;
use crate::nylas::Event;
use crate::nylas::client::Page;
use crate::nylas::models::{Calendar, Grant};
use crate::store::GrantStatus;
use crate::sweep::listing::{self, ListError};
use crate::sweep::watermark;

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
    match ctx.store.grant_status(&GrantId::from(grant_id)).await {
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

/// Reads one calendar from its checkpoint to its end. The next page is fetched while the
/// current one is written, so listing and writing overlap; at most two pages are held.
async fn run_calendar(ctx: &Context, grant_id: &str, calendar: &Calendar) -> Result<(), Stop> {
    let key = calendar_key(&ctx.run_prefix, grant_id, &calendar.id);
    let saved = ctx.store.get_cursor(&key).await?;
    let now = ctx.clock.now().as_second();
    let (token, mut listing_started) = match saved.as_deref().and_then(Checkpoint::decode) {
        Some(Checkpoint::Done { .. }) => return Ok(()),
        Some(Checkpoint::Next {
            page_token,
            listing_started,
        }) => (Some(page_token), listing_started),
        None => (None, now),
    };
    let resumed = token.is_some();
    let mut page = match fetch_page(ctx, grant_id, &calendar.id, token).await {
        Err(error) if resumed && error.is_permanent() => {
            tracing::warn!(grant.id = %grant_id, calendar.id = %calendar.id, error = %crate::cause::Chain(&error), "Nylas refused the saved page token; reading the calendar from its first page.");
            listing_started = ctx.clock.now().as_second();
            fetch_page(ctx, grant_id, &calendar.id, None).await
        }
        fetched => fetched,
    }
    .map_err(list_stop)?;
    loop {
        let next = page.next_cursor.clone();
        let prefetch = async {
            match &next {
                Some(token) => {
                    Some(fetch_page(ctx, grant_id, &calendar.id, Some(token.clone())).await)
                }
                None => None,
            }
        };
        let (written, prefetched) =
            tokio::join!(run_page(ctx, grant_id, &calendar.id, &page.data), prefetch);
        written?;
        let now = ctx.clock.now();
        let (Some(next), Some(prefetched)) = (next, prefetched) else {
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
            page_token: next,
            listing_started,
        };
        ctx.store
            .put_cursor(&key, &checkpoint.encode(), now)
            .await?;
        page = prefetched.map_err(list_stop)?;
    }
}

/// Fetches one page of a calendar's events in the run's window, unless the run was stopped.
async fn fetch_page(
    ctx: &Context,
    grant_id: &str,
    calendar_id: &str,
    token: Option<String>,
) -> Result<Page<Event>, ListError> {
    if ctx.stop.is_cancelled() {
        return Err(ListError::Interrupted);
    }
    let query = listing::event_query(calendar_id, ctx.options.window, None, token);
    ctx.lister.events(grant_id, &query).await
}

/// What a failed listing stops: the grant when its credentials were refused, else the calendar.
fn list_stop(error: ListError) -> Stop {
    match error {
        ListError::Interrupted => Stop::Interrupted,
        error if error.is_grant_auth() => Stop::Grant(crate::cause::chain(&error)),
        error => Stop::Calendar(crate::cause::chain(&error)),
    }
}
