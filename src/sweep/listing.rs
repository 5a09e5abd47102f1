//! Walking the Nylas lists that backfill and reconciliation read: grants (offset paging),
//! calendars (cursor paging, filtered by `[sync] calendars` and `exclude_read_only_calendars`)
//! and pages of events, and turning a listed event into a job for the write path.
//!
//! Invariants:
//! - Every call is retried while Nylas says it may succeed later (429 honouring `Retry-After`,
//!   5xx, timeouts), at most [`LIST_ATTEMPTS`] times, waiting with `tokio::time::sleep` and
//!   stopping early when the stop token is cancelled. Permanent and credential failures are
//!   returned at once.
//! - Event queries always carry an explicit window, `limit=200`, `expand_recurring=true`
//!   (occurrences of a series are listed as their own events, as webhooks report them) and
//!   `show_cancelled=true` (a cancelled occurrence is synced as cancelled, not left stale).
//! - A listed event becomes an upsert whose payload is trusted (`PayloadOrigin::EventsApi`: the
//!   worker does not read it again) and whose version is its `updated_at`, so the version check
//!   and content hash of the write path make re-reading unchanged events free.
//! - A list whose cursor does not advance is an error, never an endless loop.

use std::collections::HashSet;
use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::Window;
use crate::config::CalendarSelection;
use crate::ids::{EventId, GrantId};
use crate::nylas::NylasClient;
use crate::nylas::NylasError;
use crate::nylas::client::{EventQuery, MAX_PAGE_SIZE, Page};
use crate::nylas::models::{Calendar, Event, Grant};
use crate::retry::{Backoff, Retry};
use crate::store::{JobAction, JobRequest, JobSource, PayloadOrigin, PayloadText};

/// Attempts per Nylas call before giving up.
pub const LIST_ATTEMPTS: u32 = 8;
/// Grants requested per page.
pub const GRANT_PAGE: u32 = 100;
/// The longest `Retry-After` honoured as given; longer asks are cut to this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A list call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ListError {
    /// Nylas refused or failed, and retrying did not help (or cannot).
    #[error("Nylas failed after {attempts} attempt(s)")]
    Nylas {
        /// How many times the call was tried.
        attempts: u32,
        /// The last error.
        #[source]
        source: NylasError,
    },
    /// Nylas kept answering the same page cursor.
    #[error("Nylas answered the same page cursor twice while listing {what}")]
    CursorLoop {
        /// What was being listed (`calendars`, `events`).
        what: &'static str,
    },
    /// The stop token was cancelled while waiting to retry.
    #[error("interrupted")]
    Interrupted,
}

impl ListError {
    /// True when Nylas rejected the request itself (a 4xx other than 401/403/429), e.g. a page
    /// token it no longer accepts.
    pub fn is_permanent(&self) -> bool {
        matches!(self, ListError::Nylas { source, .. } if source.retry() == Retry::Permanent)
    }

    /// True when the grant's credentials were refused (expired or revoked grant).
    pub fn is_grant_auth(&self) -> bool {
        matches!(self, ListError::Nylas { source, .. } if source.is_grant_auth_failure())
    }
}

/// The calendars of a grant that are read, and how many were left out by configuration.
#[derive(Debug, Clone, Default)]
pub struct Calendars {
    /// The calendars to read.
    pub selected: Vec<Calendar>,
    /// How many calendars `sync.calendars` and `exclude_read_only_calendars` left out.
    pub excluded: usize,
}

/// Lists grants, calendars and events with retries.
#[derive(Debug, Clone)]
pub struct Lister {
    nylas: NylasClient,
    backoff: Backoff,
    selection: CalendarSelection,
    exclude_read_only: bool,
    stop: CancellationToken,
}

impl Lister {
    /// A lister using `nylas`, retrying with `backoff`, reading the calendars `selection` and
    /// `exclude_read_only` choose; waits end early when `stop` is cancelled.
    pub fn new(
        nylas: NylasClient,
        backoff: Backoff,
        selection: CalendarSelection,
        exclude_read_only: bool,
        stop: CancellationToken,
    ) -> Self {
        Lister {
            nylas,
            backoff,
            selection,
            exclude_read_only,
            stop,
        }
    }

    /// Every grant of the application (offset paging; duplicates from a list that shifted
    /// while it was read are dropped).
    pub async fn grants(&self) -> Result<Vec<Grant>, ListError> {
        let mut grants = Vec::new();
        let mut seen = HashSet::new();
        let mut offset = 0u32;
        loop {
            let page = self
                .retrying("grants", || self.nylas.list_grants(GRANT_PAGE, offset))
                .await?;
            let received = page.received();
            grants.extend(page.data.into_iter().filter(|g| seen.insert(g.id.clone())));
            if received < GRANT_PAGE as usize {
                return Ok(grants);
            }
            offset = offset.saturating_add(GRANT_PAGE);
        }
    }

    /// The grant's calendars that backfill and reconciliation read.
    pub async fn calendars(&self, grant_id: &str) -> Result<Calendars, ListError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .retrying("calendars", || {
                    self.nylas
                        .list_calendars(grant_id, MAX_PAGE_SIZE, token.as_deref())
                })
                .await?;
            all.extend(page.data);
            match page.next_cursor {
                Some(next) if Some(&next) == token.as_ref() => {
                    return Err(ListError::CursorLoop { what: "calendars" });
                }
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(select_calendars(
            all,
            self.selection,
            self.exclude_read_only,
        ))
    }

    /// One page of events.
    pub async fn events(
        &self,
        grant_id: &str,
        query: &EventQuery,
    ) -> Result<Page<Event>, ListError> {
        let page = self
            .retrying("events", || self.nylas.list_events(grant_id, query))
            .await?;
        if page.next_cursor.is_some() && page.next_cursor == query.page_token {
            return Err(ListError::CursorLoop { what: "events" });
        }
        if page.skipped > 0 {
            tracing::warn!(
                grant.id = %grant_id,
                calendar.id = %query.calendar_id,
                skipped = page.skipped,
                "Nylas listed events calsync cannot read; they were left out."
            );
        }
        Ok(page)
    }

    /// Runs `call` until it succeeds, fails for good, or runs out of attempts.
    async fn retrying<T, F, Fut>(&self, what: &'static str, mut call: F) -> Result<T, ListError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, NylasError>>,
    {
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match call().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let delay = match error.retry() {
                Retry::After(asked) if attempt < LIST_ATTEMPTS => asked
                    .map(|asked| asked.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.backoff.delay(attempt)),
                _ => {
                    return Err(ListError::Nylas {
                        attempts: attempt,
                        source: error,
                    });
                }
            };
            tracing::warn!(
                list = what,
                attempt,
                retry.after_ms = delay.as_millis() as u64,
                error = %crate::cause::Chain(&error),
                "Listing from Nylas failed; retrying."
            );
            tokio::select! {
                _ = self.stop.cancelled() => return Err(ListError::Interrupted),
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }
}

/// The calendars `selection` and `exclude_read_only` keep.
pub fn select_calendars(
    all: Vec<Calendar>,
    selection: CalendarSelection,
    exclude_read_only: bool,
) -> Calendars {
    let total = all.len();
    let selected: Vec<Calendar> = all
        .into_iter()
        .filter(|calendar| match selection {
            CalendarSelection::All => true,
            CalendarSelection::Primary => calendar.is_primary == Some(true),
        })
        .filter(|calendar| !(exclude_read_only && calendar.read_only == Some(true)))
        .collect();
    Calendars {
        excluded: total - selected.len(),
        selected,
    }
}

/// The query for one page of a calendar's events in `window`.
pub fn event_query(
    calendar_id: &str,
    window: Window,
    updated_after: Option<i64>,
    page_token: Option<String>,
) -> EventQuery {
    EventQuery {
        page_token,
        updated_after,
        show_cancelled: Some(true),
        expand_recurring: Some(true),
        ..EventQuery::new(calendar_id, window.start, window.end)
    }
}

/// The upsert job for a listed event: the event is the payload, trusted as current.
pub fn job_for(
    event: &Event,
    grant_id: &str,
    calendar_id: &str,
    source: JobSource,
) -> Result<JobRequest, serde_json::Error> {
    Ok(JobRequest {
        record_key: EventId::from(event.id.as_str()),
        grant_id: GrantId::from(grant_id),
        calendar_id: Some(
            event
                .calendar_id
                .clone()
                .unwrap_or_else(|| calendar_id.to_string()),
        ),
        action: JobAction::Upsert,
        payload: Some(PayloadText::to_json(event)?),
        origin: PayloadOrigin::EventsApi,
        version: event.updated_at,
        force_fetch: false,
        source,
        notification_id: None,
    })
}

/// The jobs for a page of events (events without an id, or that cannot be encoded, are left
/// out with a warning).
pub fn jobs_for_page(
    events: &[Event],
    grant_id: &str,
    calendar_id: &str,
    source: JobSource,
) -> Vec<JobRequest> {
    events
        .iter()
        .filter(|event| !event.id.is_empty())
        .filter_map(|event| match job_for(event, grant_id, calendar_id, source) {
            Ok(job) => Some(job),
            Err(error) => {
                tracing::warn!(event.id = %event.id, error = %crate::cause::Chain(&error), "A listed event cannot be encoded; skipped.");
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
