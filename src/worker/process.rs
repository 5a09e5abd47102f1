//! The write path of one job (invariants 2–6 of `architecture.md`), in two steps.
//!
//! 1. **The grant's copy** (`copies`), under the job's lease (jobs are keyed by event id). For
//!    an upsert: read the event (from the payload, or fetched from Nylas when the payload may be
//!    incomplete, the policy says so, or the copy was deleted) → skip it if its version is older
//!    than the copy's → map → record the copy (live or cancelled, with the record it maps to). An
//!    event the Events API no longer returns, and a delete job, record the copy as deleted. The
//!    copy names its meeting (`crate::meeting::meeting_key`); the store answers the meeting's
//!    record key, bound once by the meeting's first copy (an upgraded deployment's `sync_state`
//!    row of that event id is that record: no second record, no key change). Other grants' live
//!    copies with the same event id (Google) are re-read too, since their notifications may have
//!    coalesced into this job.
//! 2. **The meeting** ([`write`]), under the meeting's named lock (`meeting:<key>`, so two grants'
//!    copies at two workers or replicas never write one meeting at once): resolve the meeting
//!    from all its copies (`crate::meeting::resolve`) → live or cancelled: map-hash check →
//!    upsert; removed: soft-delete, or with `sync.deleted_meetings = "cancel"` write it as
//!    cancelled. A copy job that finds the lock held waits for it; every job recomputes from all
//!    copies after recording its own, so no copy is ever left unaccounted.
//!
//! Before a create, the state is marked `create_pending`; if the create's answer is lost (crash,
//! timeout), the next attempt tells the adapter the record may exist, so a create happens at most
//! once per meeting even across crashes.

mod copies;
mod write;

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::{DeletedMeetings, FetchPolicy};
use crate::crm::batch::{Parked, RunningJob};
use crate::crm::{CrmAdapter, CrmError};
use crate::ids::{MeetingKey, NotificationId};
use crate::mapping::MappingError;
use crate::nylas::{Event, NylasClient, NylasError};
use crate::policy::{Policy, PolicySettings};
use crate::retry::Retry;
use crate::store::{ClaimedJob, JobRequest, PayloadOrigin, PayloadText, Store, StoreError};
use crate::telemetry::metrics::Metrics;

use super::breaker::{self, Breaker, Signal, Upstream};

/// What a job did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// The record was created in the CRM.
    Created,
    /// The record was updated in the CRM.
    Updated,
    /// The record already held this content: no CRM call.
    Unchanged,
    /// The event is older than the version already written: ignored.
    Stale,
    /// The record was soft-deleted in the CRM.
    Deleted,
    /// The event is gone and there was no live record to delete: tombstone only.
    NothingToDelete,
}

impl SyncOutcome {
    /// A stable lowercase name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            SyncOutcome::Created => "created",
            SyncOutcome::Updated => "updated",
            SyncOutcome::Unchanged => "unchanged",
            SyncOutcome::Stale => "stale",
            SyncOutcome::Deleted => "deleted",
            SyncOutcome::NothingToDelete => "nothing_to_delete",
        }
    }
}

/// Why a job failed.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A Nylas read failed.
    #[error("reading the event from Nylas failed")]
    Nylas(#[source] NylasError),
    /// The CRM write failed.
    #[error("writing to the CRM failed")]
    Crm(#[source] CrmError),
    /// The event cannot be mapped to a record.
    #[error("the event cannot be mapped")]
    Mapping(#[source] MappingError),
    /// The job's payload is not an event.
    #[error("the job's payload is not an event")]
    Payload(#[source] serde_json::Error),
    /// The event names no calendar and is not in the grant's primary calendar.
    #[error("the event has no calendar id and is not in the grant's primary calendar")]
    CalendarUnknown,
    /// Another worker held the meeting's lock for longer than a job waits.
    #[error("another worker held the meeting's lock for longer than a job waits")]
    MeetingBusy,
    /// A recorded copy of the meeting is not a meeting record.
    #[error("a recorded copy of the meeting is not a meeting record")]
    CopyContent(#[source] serde_json::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// What to do about it.
    pub fn retry(&self) -> Retry {
        match self {
            SyncError::Nylas(error) => error.retry(),
            SyncError::Crm(error) => error.retry(),
            SyncError::Mapping(_)
            | SyncError::Payload(_)
            | SyncError::CopyContent(_)
            | SyncError::CalendarUnknown => Retry::Permanent,
            SyncError::Store(_) | SyncError::MeetingBusy => Retry::After(None),
        }
    }

    /// The upstream and signal of a failure, when it is upstream-level (see `breaker`'s module
    /// docs). An expired Nylas grant is upstream-level too here; the caller handles it first.
    pub fn breaker_signal(&self) -> Option<(Upstream, Signal)> {
        match self {
            SyncError::Crm(error) => {
                breaker::crm_signal(error).map(|signal| (Upstream::Crm, signal))
            }
            SyncError::Nylas(error) => {
                breaker::nylas_signal(error).map(|signal| (Upstream::Nylas, signal))
            }
            SyncError::Mapping(_)
            | SyncError::Payload(_)
            | SyncError::CalendarUnknown
            | SyncError::MeetingBusy
            | SyncError::CopyContent(_)
            | SyncError::Store(_) => None,
        }
    }
}

/// A job's payload read as an event, and whether it may stand for the event's current state
/// without reading it from Nylas.
pub(crate) struct JobPayload {
    pub event: Option<Event>,
    /// The payload came from the Events API, or from a complete notification under
    /// `nylas.fetch = "when_incomplete"`, and the job is not marked to fetch.
    pub trusted: bool,
}

/// Reads the job's payload; the one rule for trusting it, shared by the write path and the
/// series runner (which reads a job's event before the write path does).
pub(crate) fn job_payload(
    request: &JobRequest,
    fetch: FetchPolicy,
) -> Result<JobPayload, SyncError> {
    let event = request
        .payload
        .as_ref()
        .map(PayloadText::parse::<Event>)
        .transpose()
        .map_err(SyncError::Payload)?;
    let by_origin = match request.origin {
        PayloadOrigin::EventsApi => true,
        PayloadOrigin::NotificationComplete => fetch == FetchPolicy::WhenIncomplete,
        PayloadOrigin::NotificationPartial | PayloadOrigin::None => false,
    };
    Ok(JobPayload {
        event,
        trusted: by_origin && !request.force_fetch,
    })
}

/// The span every job runs in: its event, grant, attempt, source and notification, and (once
/// known) the CRM record id, so every log line of the job names them.
pub fn job_span(job: &ClaimedJob) -> tracing::Span {
    let request = &job.request;
    tracing::info_span!(
        "job",
        event.id = %request.record_key,
        grant.id = %request.grant_id,
        notification.id = request.notification_id.as_ref().map_or("", NotificationId::as_str),
        job.attempt = job.attempts + 1,
        job.source = ?request.source,
        meeting.key = tracing::field::Empty,
        crm.record_id = tracing::field::Empty,
    )
}

/// Names the CRM record in the current job's span.
fn record_crm_id(id: &str) {
    tracing::Span::current().record("crm.record_id", id);
}

/// Names the meeting in the current job's span.
fn record_meeting_key(key: &MeetingKey) {
    tracing::Span::current().record("meeting.key", key.as_str());
}

/// How long the meeting lock is held at most without renewal (renewed before each CRM call).
pub const DEFAULT_MEETING_LOCK: Duration = Duration::from_secs(60);

/// Runs the write path. Cheap to share: all state lives in the store.
pub struct Processor {
    pub(crate) store: Arc<dyn Store>,
    nylas: NylasClient,
    pub(crate) crm: Arc<dyn CrmAdapter>,
    fetch: FetchPolicy,
    pub(crate) clock: Clock,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) breaker: Arc<Breaker>,
    deleted_meetings: DeletedMeetings,
    meeting_lock: Duration,
    /// What reaches the CRM; its grant directory also tells whose calendar each grant is
    /// (which copy of a meeting is the organizer's).
    policy: Arc<Policy>,
    /// Bounds concurrent event fetches from Nylas (`sync.workers`) when the pool runs more jobs
    /// than that to fill CRM batches; `None`: bounded by the pool alone.
    fetch_slots: Option<Arc<tokio::sync::Semaphore>>,
}

impl Processor {
    /// A processor writing to `crm`; `breaker` tracks the CRM's and Nylas's outages (it must
    /// watch the gates of this `nylas` client and of `crm`'s transport).
    pub fn new(
        store: Arc<dyn Store>,
        nylas: NylasClient,
        crm: Arc<dyn CrmAdapter>,
        fetch: FetchPolicy,
        clock: Clock,
        metrics: Arc<Metrics>,
        breaker: Arc<Breaker>,
    ) -> Self {
        let policy = Policy::new(PolicySettings::default(), nylas.clone(), metrics.clone());
        Processor {
            store,
            nylas,
            crm,
            fetch,
            clock,
            metrics,
            breaker,
            deleted_meetings: DeletedMeetings::default(),
            meeting_lock: DEFAULT_MEETING_LOCK,
            policy: Arc::new(policy),
            fetch_slots: None,
        }
    }

    /// Counts a job as running in the CRM's batch gate while the guard lives, so the CRM's
    /// batches wait for it and no longer (`crate::crm::batch`); `None` for a CRM that does not
    /// batch. Whoever runs jobs holds one per job, from its claim until it is settled.
    pub fn job_started(&self) -> Option<RunningJob> {
        self.crm.batch_gate().map(|gate| gate.job_started())
    }

    /// Counts the running job as parked while the guard lives: it waits for something a
    /// batch may itself hold up, so batches do not wait for it.
    pub(crate) fn park(&self) -> Option<Parked> {
        self.crm.batch_gate().map(|gate| gate.park())
    }

    /// Fetches at most `limit` events from Nylas at once, however many jobs run.
    pub fn with_fetch_limit(mut self, limit: usize) -> Self {
        self.fetch_slots = Some(Arc::new(tokio::sync::Semaphore::new(limit.max(1))));
        self
    }

    /// Sets what a meeting whose copies are all deleted becomes (`sync.deleted_meetings`) and
    /// how long the meeting lock is held without renewal (`sync.lease`).
    pub fn with_meetings(mut self, deleted_meetings: DeletedMeetings, lock_for: Duration) -> Self {
        self.deleted_meetings = deleted_meetings;
        self.meeting_lock = lock_for;
        self
    }

    /// Decides with `policy` what reaches the CRM (the default: every event, private ones
    /// redacted, Google's non-meeting event types skipped).
    pub fn with_policy(mut self, policy: Arc<Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// What reaches the CRM.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The circuit breaker over the upstreams the processor writes to and reads from.
    pub fn breaker(&self) -> &Arc<Breaker> {
        &self.breaker
    }

    /// Brings the job's meeting up to date: records the grant's copy, then writes the meeting.
    /// The caller holds the job's lease.
    pub async fn sync(&self, job: &ClaimedJob) -> Result<SyncOutcome, SyncError> {
        let own = match self.copy_of(&job.request).await? {
            Some(copy) => Some(self.record(copy).await?),
            None => None,
        };
        let siblings = self.refresh_siblings(&job.request).await?;
        let Some((meeting_key, record_key)) = own.or(siblings) else {
            return Ok(SyncOutcome::Stale);
        };
        record_meeting_key(&meeting_key);
        let owner = job.request.record_key.as_str();
        self.write_meeting(&meeting_key, &record_key, owner).await
    }

    /// The event's current state: the payload when it can be trusted, else fetched.
    /// `None` when the Events API says the event no longer exists.
    async fn current_event(
        &self,
        request: &JobRequest,
        known: &copies::Known,
    ) -> Result<Option<Event>, SyncError> {
        let JobPayload {
            event: payload,
            trusted,
        } = job_payload(request, self.fetch)?;
        if let Some(event) = &payload
            && trusted
            && !known.deleted
        {
            return Ok(Some(event.clone()));
        }
        let calendar = request
            .calendar_id
            .clone()
            .or_else(|| known.calendar_id.clone())
            .or_else(|| payload.as_ref().and_then(|event| event.calendar_id.clone()));
        let guessed = calendar.is_none();
        let calendar = calendar.unwrap_or_else(|| "primary".to_string());
        let _slot = match &self.fetch_slots {
            Some(slots) => slots.clone().acquire_owned().await.ok(),
            None => None,
        };
        let fetched = self
            .nylas
            .get_event(
                request.grant_id.as_str(),
                request.record_key.as_str(),
                &calendar,
            )
            .await
            .map_err(SyncError::Nylas)?;
        match fetched {
            Some(event) => Ok(Some(event)),
            None if !guessed || known.deleted => Ok(None),
            // Not in the primary calendar, and we do not know which one it is in: the payload is
            // the best information there is, if it is usable.
            None => match payload {
                Some(event) if event.when.is_some() => {
                    tracing::warn!(
                        "The event has no calendar id and is not in the primary calendar; using the notification's payload."
                    );
                    Ok(Some(event))
                }
                _ => Err(SyncError::CalendarUnknown),
            },
        }
    }
}
