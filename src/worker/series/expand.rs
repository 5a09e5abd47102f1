//! Expanding a series master into its occurrences, and removing a deleted series (see the
//! parent module for the invariants).

use std::collections::HashSet;

use crate::ids::EventId;
use crate::nylas::Event;
use crate::nylas::client::EventQuery;
use crate::store::SeriesStore;
use crate::store::{
    ClaimedJob, JobAction, JobRequest, Occurrence, PayloadOrigin, PayloadText, SeriesKey,
};

use super::{Series, as_delete, occurrence_delete};
use crate::worker::process::{Processor, SyncError, SyncOutcome};

/// The occurrences a listing returned, and whether it returned all of them.
struct Listing {
    listed: HashSet<EventId>,
    complete: bool,
}

impl Series {
    /// Lists the master's occurrences in the window, enqueues an upsert for each, and after a
    /// complete listing a delete for each known occurrence no longer listed; then removes a
    /// record an earlier calsync wrote for the master itself.
    pub(super) async fn expand(
        &self,
        processor: &Processor,
        job: &ClaimedJob,
        key: &SeriesKey,
        master: &Event,
    ) -> Result<SyncOutcome, SyncError> {
        let request = &job.request;
        let now = processor.clock.now();
        let start = now
            .as_second()
            .saturating_sub(seconds(self.settings.reach_back));
        let end = now
            .as_second()
            .saturating_add(seconds(self.settings.horizon));
        let calendar = match master.calendar_id.clone().or(request.calendar_id.clone()) {
            Some(calendar) => calendar,
            None => processor
                .store
                .load_series(key)
                .await?
                .and_then(|series| series.calendar_id)
                .unwrap_or_else(|| "primary".to_string()),
        };
        let listing = self
            .list(processor, request, key, &master.id, &calendar, (start, end))
            .await?;
        if !listing.complete {
            tracing::warn!(
                occurrences = listing.listed.len(),
                "The listing of the series' occurrences was incomplete; no occurrence is removed until a complete one."
            );
            return Ok(SyncOutcome::Unchanged);
        }
        let known = processor.store.series_occurrences(key).await?;
        let gone: Vec<EventId> = known
            .into_iter()
            .filter(|occurrence| !listing.listed.contains(&occurrence.event_id))
            .filter(|occurrence| {
                occurrence
                    .starts_at
                    .is_some_and(|at| at >= start && at < end)
            })
            .map(|occurrence| occurrence.event_id)
            .collect();
        let deletes: Vec<JobRequest> = gone
            .iter()
            .map(|id| occurrence_delete(request, id, Some(&calendar)))
            .collect();
        processor.store.enqueue(&deletes, now).await?;
        processor
            .store
            .record_expansion(key, Some(&calendar), end, &gone, now)
            .await?;
        tracing::info!(
            occurrences = listing.listed.len(),
            removed = gone.len(),
            "Expanded the series into its occurrences."
        );
        self.remove_master_record(processor, job).await
    }

    /// Soft-deletes the record an earlier calsync wrote for the master itself, if any.
    async fn remove_master_record(
        &self,
        processor: &Processor,
        job: &ClaimedJob,
    ) -> Result<SyncOutcome, SyncError> {
        let state = processor
            .store
            .load_state(
                processor.crm.target(),
                &EventId::from(job.request.record_key.as_str()),
            )
            .await?;
        let has_record = state.is_some_and(|state| {
            !state.tombstone && (state.crm_record_id.is_some() || state.create_pending)
        });
        if !has_record {
            return Ok(SyncOutcome::Unchanged);
        }
        tracing::warn!(
            "An earlier calsync wrote a record for this series master; removing it (the occurrences are the meetings)."
        );
        let outcome = processor.sync(&as_delete(job)).await?;
        processor.metrics.series_master_record_removed();
        Ok(outcome)
    }

    /// Lists the occurrences of `master_id` in `window`, page by page, enqueueing an upsert for
    /// each and remembering it as a member of the series.
    async fn list(
        &self,
        processor: &Processor,
        request: &JobRequest,
        key: &SeriesKey,
        master_id: &str,
        calendar: &str,
        (start, end): (i64, i64),
    ) -> Result<Listing, SyncError> {
        let mut listing = Listing {
            listed: HashSet::new(),
            complete: true,
        };
        let mut token: Option<String> = None;
        loop {
            let query = EventQuery {
                page_token: token.clone(),
                show_cancelled: Some(true),
                expand_recurring: Some(true),
                master_event_id: Some(master_id.to_string()),
                ..EventQuery::new(calendar, start, end)
            };
            let page = self
                .nylas
                .list_events(request.grant_id.as_str(), &query)
                .await
                .map_err(SyncError::Nylas)?;
            if page.skipped > 0 {
                listing.complete = false;
            }
            let occurrences: Vec<&Event> = page
                .data
                .iter()
                .filter(|event| !event.id.is_empty() && event.id != master_id)
                .filter(|event| !super::is_master(event))
                .collect();
            self.enqueue_page(processor, request, key, calendar, &occurrences)
                .await?;
            listing.listed.extend(
                occurrences
                    .iter()
                    .map(|event| EventId::from(event.id.as_str())),
            );
            match page.next_cursor {
                Some(next) if Some(&next) == token.as_ref() => {
                    listing.complete = false;
                    return Ok(listing);
                }
                Some(next) => token = Some(next),
                None => return Ok(listing),
            }
        }
    }

    /// Enqueues an upsert for each listed occurrence and remembers them in the series.
    async fn enqueue_page(
        &self,
        processor: &Processor,
        request: &JobRequest,
        key: &SeriesKey,
        calendar: &str,
        occurrences: &[&Event],
    ) -> Result<(), SyncError> {
        let jobs = occurrences
            .iter()
            .map(|event| occurrence_upsert(request, event, calendar))
            .collect::<Result<Vec<_>, _>>()
            .map_err(SyncError::Payload)?;
        processor
            .store
            .enqueue(&jobs, processor.clock.now())
            .await?;
        let members: Vec<Occurrence> = occurrences
            .iter()
            .map(|event| Occurrence {
                event_id: EventId::from(event.id.as_str()),
                starts_at: starts_at(event),
            })
            .collect();
        processor
            .store
            .add_occurrences(key, Some(calendar), &members)
            .await
            .map_err(SyncError::Store)
    }

    /// Enqueues a delete for every known occurrence of a deleted series, marks it deleted, and
    /// deletes (tombstones) the master's own record key through the write path.
    pub(super) async fn remove(
        &self,
        processor: &Processor,
        job: &ClaimedJob,
        key: &SeriesKey,
    ) -> Result<SyncOutcome, SyncError> {
        let now = processor.clock.now();
        let store: &dyn SeriesStore = &*processor.store;
        let calendar = store
            .load_series(key)
            .await?
            .and_then(|series| series.calendar_id);
        let known = store.series_occurrences(key).await?;
        let deletes: Vec<JobRequest> = known
            .iter()
            .map(|occurrence| {
                occurrence_delete(&job.request, &occurrence.event_id, calendar.as_deref())
            })
            .collect();
        processor.store.enqueue(&deletes, now).await?;
        store.mark_series_deleted(key, now).await?;
        tracing::info!(
            occurrences = deletes.len(),
            "The series master was deleted; removing every occurrence record."
        );
        match job.request.action {
            JobAction::Delete => processor.sync(job).await,
            JobAction::Upsert => processor.sync(&as_delete(job)).await,
        }
    }
}

/// An ordinary upsert for a listed occurrence: the event is the payload, trusted as current.
fn occurrence_upsert(
    master: &JobRequest,
    event: &Event,
    calendar: &str,
) -> Result<JobRequest, serde_json::Error> {
    Ok(JobRequest {
        record_key: EventId::from(event.id.as_str()),
        grant_id: master.grant_id.clone(),
        calendar_id: Some(
            event
                .calendar_id
                .clone()
                .unwrap_or_else(|| calendar.to_string()),
        ),
        action: JobAction::Upsert,
        payload: Some(PayloadText::to_json(event)?),
        origin: PayloadOrigin::EventsApi,
        version: event.updated_at,
        force_fetch: false,
        source: master.source,
        notification_id: master.notification_id.clone(),
    })
}

/// An event's start (Unix seconds), from its `when`, else its `original_start_time`.
pub fn starts_at(event: &Event) -> Option<i64> {
    let when = event.when.as_ref();
    let day = |text: Option<&String>| -> Option<i64> {
        let date: jiff::civil::Date = text?.parse().ok()?;
        Some(
            date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_second(),
        )
    };
    when.and_then(|when| {
        when.start_time
            .or(when.time)
            .or_else(|| day(when.date.as_ref()))
            .or_else(|| day(when.start_date.as_ref()))
    })
    .or(event.original_start_time)
}

/// Whole seconds of a duration, saturating.
fn seconds(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
