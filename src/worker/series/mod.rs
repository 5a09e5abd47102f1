//! Recurring series, upstream of the per-event write path: a series master is a rule, never a
//! CRM record; its occurrences are the meetings.
//!
//! [`Series::sync`] runs every claimed job. A job whose event turns out to be a master (it has a
//! `recurrence`) is expanded (`expand`): its occurrences in the window (`now -
//! reconcile.window_days.back` .. `now + sync.series_horizon`) are listed through
//! `master_event_id` and each becomes an ordinary upsert job with the listed event as payload, so
//! the write path's version and hash checks make unchanged occurrences free. Every other job goes
//! to [`Processor::sync`] unchanged (with the event it read, so it is not read twice).
//!
//! Invariants:
//! - A master is never written. A record an earlier calsync wrote for one is soft-deleted through
//!   the ordinary delete path when its series is re-read (logged, counted in
//!   `calsync_series_master_records_removed_total`).
//! - Occurrences are removed only after a *complete* listing: known occurrences whose start lies
//!   in the listed window and that the listing no longer returns (an EXDATE, a shortened or
//!   changed rule) get ordinary delete jobs. A listing that fails, loops or leaves events out
//!   removes nothing.
//! - A master deleted (a delete job, or 404 when read) gives every known occurrence of its
//!   series an ordinary delete job; the series is marked deleted in the store, which is distinct
//!   from the master's own sync state.
//! - Delete jobs are enqueued before the store forgets the occurrences, so a crash in between
//!   repeats the work instead of losing it.

mod expand;

pub use expand::starts_at;

use std::time::Duration;

use crate::config::FetchPolicy;
use crate::ids::EventId;
use crate::nylas::{Event, NylasClient};
use crate::store::{ClaimedJob, JobAction, JobRequest, PayloadOrigin, PayloadText, SeriesKey};

use super::process::{JobPayload, Processor, SyncError, SyncOutcome, job_payload};

/// How series are expanded.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSettings {
    /// How far ahead occurrences become records (`sync.series_horizon`).
    pub horizon: Duration,
    /// How far back a series listing reaches (`reconcile.window_days.back`).
    pub reach_back: Duration,
    /// When a job's payload may be used without reading the event (`nylas.fetch`).
    pub fetch: FetchPolicy,
}

/// Runs jobs, expanding series masters. Cheap to clone.
#[derive(Clone)]
pub struct Series {
    nylas: NylasClient,
    settings: SeriesSettings,
}

/// What reading a job's event found.
enum Read {
    /// A series master.
    Master(Box<Event>),
    /// The Events API no longer returns it.
    Gone,
    /// Not a master: the job to hand to the write path.
    NotMaster(Box<ClaimedJob>),
}

impl Series {
    /// Expands series through `nylas` with `settings`.
    pub fn new(nylas: NylasClient, settings: SeriesSettings) -> Self {
        Series { nylas, settings }
    }

    /// The settings it expands with.
    pub fn settings(&self) -> SeriesSettings {
        self.settings
    }

    /// Runs a claimed job (the caller holds its lease): expands a master, removes a deleted
    /// series, and hands everything else to `processor`.
    pub async fn sync(
        &self,
        processor: &Processor,
        job: &ClaimedJob,
    ) -> Result<SyncOutcome, SyncError> {
        let request = &job.request;
        let key = SeriesKey::new(request.grant_id.clone(), request.record_key.clone());
        match request.action {
            JobAction::Delete if self.is_live_series(processor, &key).await? => {
                self.remove(processor, job, &key).await
            }
            JobAction::Delete => processor.sync(job).await,
            JobAction::Upsert => match self.read(processor, job, &key).await? {
                Read::Master(master) => self.expand(processor, job, &key, &master).await,
                Read::Gone if self.is_live_series(processor, &key).await? => {
                    self.remove(processor, job, &key).await
                }
                Read::Gone => processor.sync(&as_delete(job)).await,
                Read::NotMaster(job) => {
                    remember_occurrence(processor, &job).await?;
                    processor.sync(&job).await
                }
            },
        }
    }

    /// True when the key is a series master calsync knows and has not seen deleted.
    async fn is_live_series(
        &self,
        processor: &Processor,
        key: &SeriesKey,
    ) -> Result<bool, SyncError> {
        let series = processor.store.load_series(key).await?;
        Ok(series.is_some_and(|series| series.deleted_at.is_none()))
    }

    /// The job's event: its payload when the write path would trust it, else read from Nylas
    /// (then handed on as the payload, so the write path does not read it again).
    async fn read(
        &self,
        processor: &Processor,
        job: &ClaimedJob,
        key: &SeriesKey,
    ) -> Result<Read, SyncError> {
        let request = &job.request;
        let JobPayload {
            event: payload,
            trusted,
        } = job_payload(request, self.settings.fetch)?;
        if let Some(event) = payload.as_ref()
            && trusted
        {
            return Ok(match is_master(event) {
                true => Read::Master(Box::new(event.clone())),
                false => Read::NotMaster(Box::new(job.clone())),
            });
        }
        let known = match &request.calendar_id {
            Some(calendar) => Some(calendar.clone()),
            None => match payload.as_ref().and_then(|event| event.calendar_id.clone()) {
                Some(calendar) => Some(calendar),
                None => processor
                    .store
                    .load_series(key)
                    .await?
                    .and_then(|series| series.calendar_id),
            },
        };
        let calendar = known.clone().unwrap_or_else(|| "primary".to_string());
        let fetched = self
            .nylas
            .get_event(
                request.grant_id.as_str(),
                request.record_key.as_str(),
                &calendar,
            )
            .await
            .map_err(SyncError::Nylas)?;
        Ok(match fetched {
            Some(event) if is_master(&event) => Read::Master(Box::new(event)),
            Some(event) => {
                let mut read = job.clone();
                read.request.payload =
                    Some(PayloadText::to_json(&event).map_err(SyncError::Payload)?);
                read.request.origin = PayloadOrigin::EventsApi;
                read.request.force_fetch = false;
                if read.request.calendar_id.is_none() {
                    read.request.calendar_id = event.calendar_id.clone().or(known);
                }
                Read::NotMaster(Box::new(read))
            }
            // Not in the guessed calendar: the write path knows what to make of that.
            None if known.is_none() => Read::NotMaster(Box::new(job.clone())),
            None => Read::Gone,
        })
    }
}

/// Remembers an occurrence notified on its own (Google notifies edited occurrences) as a member
/// of its series, so a deletion of the series removes it and reconciliation expands the series.
async fn remember_occurrence(processor: &Processor, job: &ClaimedJob) -> Result<(), SyncError> {
    let Some(payload) = &job.request.payload else {
        return Ok(());
    };
    let Ok(event) = payload.parse::<Event>() else {
        return Ok(());
    };
    let Some(master) = event.master_event_id.as_deref().filter(|id| !id.is_empty()) else {
        return Ok(());
    };
    let key = SeriesKey::new(job.request.grant_id.clone(), master);
    let calendar = event
        .calendar_id
        .as_deref()
        .or(job.request.calendar_id.as_deref());
    let occurrence = crate::store::Occurrence {
        event_id: EventId::from(event.id.as_str()),
        starts_at: starts_at(&event),
    };
    processor
        .store
        .add_occurrences(&key, calendar, &[occurrence])
        .await?;
    Ok(())
}

/// True for a series master: an event carrying a recurrence rule.
pub fn is_master(event: &Event) -> bool {
    event.recurrence.iter().any(|rule| !rule.trim().is_empty())
}

/// The job as a delete of its record (no payload, no version).
fn as_delete(job: &ClaimedJob) -> ClaimedJob {
    let mut delete = job.clone();
    delete.request.action = JobAction::Delete;
    delete.request.payload = None;
    delete.request.origin = PayloadOrigin::None;
    delete.request.version = None;
    delete.request.force_fetch = false;
    delete
}

/// An ordinary delete job for an occurrence of the series `master` names.
fn occurrence_delete(
    master: &JobRequest,
    event_id: &EventId,
    calendar: Option<&str>,
) -> JobRequest {
    JobRequest {
        record_key: event_id.clone(),
        grant_id: master.grant_id.clone(),
        calendar_id: calendar.map(str::to_string),
        action: JobAction::Delete,
        payload: None,
        origin: PayloadOrigin::None,
        version: None,
        force_fetch: false,
        source: master.source,
        notification_id: master.notification_id.clone(),
    }
}
