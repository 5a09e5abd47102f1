//! Recurring series in listings (backfill and reconciliation), the listing side of
//! [`crate::worker::series`]: a master in a listing is expanded by the workers, never written;
//! listed occurrences are synced as ordinary events up to the horizon.
//!
//! [`sort_page`] splits a page of listed events:
//! - occurrences (events with a `master_event_id`) starting after `now + sync.series_horizon`
//!   are left out (the horizon reaches them as it rolls forward);
//! - the other occurrences are kept, and remembered as members of their series, so a deleted
//!   series removes them even when they lie before the window a series listing reads;
//! - each series seen (a master listed, or the master of a listed occurrence) gets a refresh
//!   job: an upsert of the master's key without payload, which the workers read and expand
//!   (this is also when a record an earlier calsync wrote for the master is removed).
//!
//! Masters themselves stay in the page: their job carries the listed master as trusted payload,
//! and the workers expand it without reading it again.

use std::collections::{BTreeMap, BTreeSet};

use crate::ids::{EventId, GrantId};
use crate::nylas::Event;
use crate::store::{
    JobAction, JobRequest, JobSource, Occurrence, PayloadOrigin, SeriesKey, SeriesStore, StoreError,
};
use crate::worker::series::{is_master, starts_at};

/// A page of listed events, sorted for the write path.
#[derive(Debug, Default)]
pub struct SortedPage {
    /// The events to enqueue (masters included: the workers expand them).
    pub events: Vec<Event>,
    /// Refresh jobs for the series whose occurrences were listed (masters not in the page).
    pub refresh: Vec<JobRequest>,
}

/// Sorts a page listed from `calendar_id` of `grant_id` (see the module docs); `horizon_end` is
/// `now + sync.series_horizon` in Unix seconds.
pub async fn sort_page(
    store: &dyn SeriesStore,
    events: &[Event],
    grant_id: &str,
    calendar_id: &str,
    horizon_end: i64,
    source: JobSource,
) -> Result<SortedPage, StoreError> {
    let mut sorted = SortedPage::default();
    let grant = GrantId::from(grant_id);
    let mut members: BTreeMap<EventId, Vec<Occurrence>> = BTreeMap::new();
    let masters_listed: BTreeSet<&str> = events
        .iter()
        .filter(|event| is_master(event))
        .map(|event| event.id.as_str())
        .collect();
    for event in events {
        let Some(master) = event.master_event_id.as_deref().filter(|id| !id.is_empty()) else {
            sorted.events.push(event.clone());
            continue;
        };
        let start = starts_at(event);
        if start.is_some_and(|start| start > horizon_end) {
            continue;
        }
        members
            .entry(EventId::from(master))
            .or_default()
            .push(Occurrence {
                event_id: EventId::from(event.id.as_str()),
                starts_at: start,
            });
        sorted.events.push(event.clone());
    }
    for (master, occurrences) in &members {
        let key = SeriesKey::new(grant.clone(), master.clone());
        store
            .add_occurrences(&key, Some(calendar_id), occurrences)
            .await?;
        if !masters_listed.contains(master.as_str()) {
            sorted
                .refresh
                .push(refresh_job(&grant, master, Some(calendar_id), source));
        }
    }
    Ok(sorted)
}

/// A job that makes the workers read the master and expand its series.
pub fn refresh_job(
    grant_id: &GrantId,
    master_event_id: &EventId,
    calendar_id: Option<&str>,
    source: JobSource,
) -> JobRequest {
    JobRequest {
        record_key: master_event_id.clone(),
        grant_id: grant_id.clone(),
        calendar_id: calendar_id.map(str::to_string),
        action: JobAction::Upsert,
        payload: None,
        origin: PayloadOrigin::None,
        version: None,
        force_fetch: false,
        source,
        notification_id: None,
    }
}
