//! Calendar selection for every event, not only for listings: `sync.calendars = "primary"` and
//! `sync.exclude_read_only_calendars` also apply to events that arrive by webhook.
//!
//! Invariants: a grant's calendars are listed at most once per [`CALENDARS_TTL`] however many
//! events ask at once (concurrent lookups share one listing); an event in a calendar the cached
//! listing does not know causes one fresh listing (a calendar added since), never more per
//! event, and at most once per [`MISS_TTL`] for a calendar that no listing shows; a failed
//! listing is not remembered. An event whose calendar is unknown even after a
//! fresh listing counts as "not primary" and "not read-only".

use std::sync::Arc;
use std::time::Duration;

use moka::future::Cache;

use crate::config::CalendarSelection;
use crate::nylas::client::MAX_PAGE_SIZE;
use crate::nylas::models::Calendar;
use crate::nylas::{NylasClient, NylasError};

use super::SkipReason;

/// How long a grant's calendar list is reused.
pub const CALENDARS_TTL: Duration = Duration::from_secs(60 * 60);
/// How long a calendar that a fresh listing did not show is not listed for again.
pub const MISS_TTL: Duration = Duration::from_secs(5 * 60);
/// The most grants remembered at once.
const CAPACITY: u64 = 100_000;
/// The most pages of calendars read for one grant (200 each).
const MAX_PAGES: usize = 20;

/// Grant id → its calendars, cached.
#[derive(Clone)]
pub struct CalendarDirectory {
    nylas: NylasClient,
    calendars: Cache<String, Arc<Vec<Calendar>>>,
    /// (grant, calendar) pairs a fresh listing did not show.
    misses: Cache<(String, String), ()>,
}

impl CalendarDirectory {
    /// A directory listing calendars through `nylas`, remembering each grant's for `ttl`.
    pub fn new(nylas: NylasClient, ttl: Duration) -> Self {
        CalendarDirectory {
            nylas,
            calendars: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(ttl)
                .build(),
            misses: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(MISS_TTL.min(ttl))
                .build(),
        }
    }

    /// The calendar `calendar_id` of the grant, listing the grant's calendars when they are not
    /// cached, or cached without it.
    pub async fn calendar(
        &self,
        grant_id: &str,
        calendar_id: &str,
    ) -> Result<Option<Calendar>, NylasError> {
        let find = |list: &[Calendar]| list.iter().find(|c| c.id == calendar_id).cloned();
        if let Some(cached) = self.calendars.get(grant_id).await {
            let miss = (grant_id.to_owned(), calendar_id.to_owned());
            if let Some(found) = find(&cached) {
                return Ok(Some(found));
            }
            if self.misses.contains_key(&miss) {
                return Ok(None);
            }
            // Perhaps a calendar added since the listing: list again.
            self.calendars.invalidate(grant_id).await;
        }
        let listed = self.listing(grant_id).await?;
        let found = find(&listed);
        if found.is_none() {
            let miss = (grant_id.to_owned(), calendar_id.to_owned());
            self.misses.insert(miss, ()).await;
        }
        Ok(found)
    }

    /// The grant's calendars, from the cache or one listing shared by concurrent callers. When
    /// the shared listing fails, this caller lists once more on its own, so the error it
    /// returns is its own (with its status, for the worker's classification).
    async fn listing(&self, grant_id: &str) -> Result<Arc<Vec<Calendar>>, NylasError> {
        let nylas = self.nylas.clone();
        let grant = grant_id.to_owned();
        let shared = self
            .calendars
            .try_get_with(grant_id.to_owned(), async move {
                list_all(&nylas, &grant).await.map(Arc::new)
            })
            .await;
        match shared {
            Ok(calendars) => Ok(calendars),
            Err(_) => {
                let calendars = Arc::new(list_all(&self.nylas, grant_id).await?);
                let key = grant_id.to_owned();
                self.calendars.insert(key, calendars.clone()).await;
                Ok(calendars)
            }
        }
    }
}

/// Every calendar of the grant (cursor paging, at most [`MAX_PAGES`] pages).
async fn list_all(nylas: &NylasClient, grant_id: &str) -> Result<Vec<Calendar>, NylasError> {
    let mut all = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = nylas
            .list_calendars(grant_id, MAX_PAGE_SIZE, token.as_deref())
            .await?;
        all.extend(page.data);
        match page.next_cursor {
            Some(next) if Some(&next) != token.as_ref() => token = Some(next),
            _ => break,
        }
    }
    Ok(all)
}

/// Whether the event's calendar is selected; `None` when it is, else the reason it is not.
pub async fn check_selection(
    directory: &CalendarDirectory,
    selection: CalendarSelection,
    exclude_read_only: bool,
    grant_id: &str,
    calendar_id: Option<&str>,
) -> Result<Option<SkipReason>, NylasError> {
    let wants_primary = selection == CalendarSelection::Primary;
    if !wants_primary && !exclude_read_only {
        return Ok(None);
    }
    // Unknown calendar, or the `primary` alias: the grant's primary calendar.
    let Some(calendar_id) = calendar_id.filter(|id| *id != "primary") else {
        return Ok(None);
    };
    let calendar = directory.calendar(grant_id, calendar_id).await?;
    let is_primary = calendar.as_ref().and_then(|c| c.is_primary) == Some(true);
    let read_only = calendar.as_ref().and_then(|c| c.read_only) == Some(true);
    if wants_primary && !is_primary {
        return Ok(Some(SkipReason::NotPrimaryCalendar));
    }
    if exclude_read_only && read_only {
        return Ok(Some(SkipReason::ReadOnlyCalendar));
    }
    Ok(None)
}
