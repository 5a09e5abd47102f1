//! The write path of one job (invariants 2–6 of `architecture.md`).
//!
//! For an upsert: read the event (from the payload, or fetched from Nylas when the payload may be
//! incomplete, the policy says so, or the record is tombstoned) → skip it if its version is older
//! than the one written → map → skip it if the content hash equals the one written → upsert →
//! remember the CRM id, version and hash. An event the Events API no longer returns is handled as
//! a delete. For a delete: soft-delete a record we created, and leave a tombstone either way.
//!
//! Before a create, the state is marked `create_pending`; if the create's answer is lost (crash,
//! timeout), the next attempt tells the adapter the record may exist, so a create happens at most
//! once per event even across crashes. The caller holds the job's lease, so no other worker
//! touches the same record key meanwhile.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::FetchPolicy;
use crate::crm::{CrmAdapter, CrmError, ExistingRecord};
use crate::mapping::MappingError;
use crate::nylas::{Event, NylasClient, NylasError};
use crate::policy::{Decision, Policy, PolicyError, PolicySettings, Source};
use crate::retry::Retry;
use crate::store::{
    ClaimedJob, JobAction, JobRequest, PayloadOrigin, Store, StoreError, SyncState,
};
use crate::telemetry::metrics::Metrics;

use super::health::Health;

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
    #[error("reading the event from Nylas failed")]
    Nylas(#[source] NylasError),
    #[error("writing to the CRM failed")]
    Crm(#[source] CrmError),
    #[error("the event cannot be mapped")]
    Mapping(#[source] MappingError),
    #[error("the job's payload is not an event")]
    Payload(#[source] serde_json::Error),
    #[error("the event has no calendar id and is not in the grant's primary calendar")]
    CalendarUnknown,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SyncError {
    /// What to do about it.
    pub fn retry(&self) -> Retry {
        match self {
            SyncError::Nylas(error) => error.retry(),
            SyncError::Crm(error) => error.retry(),
            SyncError::Mapping(_) | SyncError::Payload(_) | SyncError::CalendarUnknown => {
                Retry::Permanent
            }
            SyncError::Store(_) => Retry::After(None),
        }
    }
}

/// The span every job runs in: its event, grant, attempt, source and notification, and (once
/// known) the CRM record id, so every log line of the job names them.
pub fn job_span(job: &ClaimedJob) -> tracing::Span {
    let request = &job.request;
    tracing::info_span!(
        "job",
        event.id = %request.record_key,
        grant.id = %request.grant_id,
        notification.id = request.notification_id.as_deref().unwrap_or(""),
        job.attempt = job.attempts + 1,
        job.source = ?request.source,
        crm.record_id = tracing::field::Empty,
    )
}

/// Names the CRM record in the current job's span.
fn record_crm_id(id: &str) {
    tracing::Span::current().record("crm.record_id", id);
}

/// Runs the write path. Cheap to share: all state lives in the store.
pub struct Processor {
    pub(crate) store: Arc<dyn Store>,
    nylas: NylasClient,
    pub(crate) crm: Arc<dyn CrmAdapter>,
    fetch: FetchPolicy,
    pub(crate) clock: Clock,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) health: Arc<Health>,
    policy: Arc<Policy>,
}

impl Processor {
    /// A processor writing to `crm`; `health` tracks the CRM's and Nylas's health (it must
    /// watch the gates of this `nylas` client and of `crm`'s transport).
    pub fn new(
        store: Arc<dyn Store>,
        nylas: NylasClient,
        crm: Arc<dyn CrmAdapter>,
        fetch: FetchPolicy,
        clock: Clock,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        let policy = Policy::new(PolicySettings::default(), nylas.clone(), metrics.clone());
        Processor {
            store,
            nylas,
            crm,
            fetch,
            clock,
            metrics,
            health,
            policy: Arc::new(policy),
        }
    }

    /// Decides with `policy` what reaches the CRM (the default: every event, private ones
    /// redacted, Google's non-meeting event types skipped).
    pub fn with_policy(mut self, policy: Arc<Policy>) -> Self {
        self.policy = policy;
        self
    }

    /// The health of the targets the processor writes to and reads from.
    pub fn health(&self) -> &Arc<Health> {
        &self.health
    }

    /// Brings the job's record up to date. The caller holds the job's lease.
    pub async fn sync(&self, job: &ClaimedJob) -> Result<SyncOutcome, SyncError> {
        let request = &job.request;
        let state = self
            .store
            .load_state(self.crm.target(), &request.record_key)
            .await?
            .unwrap_or_else(|| SyncState {
                target: self.crm.target().to_string(),
                record_key: request.record_key.clone(),
                ..SyncState::default()
            });
        if let Some(id) = &state.crm_record_id {
            record_crm_id(id);
        }
        match request.action {
            JobAction::Delete => self.delete(request, state, request.version).await,
            JobAction::Upsert => match self.current_event(request, &state).await? {
                Some(event) => self.upsert(request, state, event).await,
                None => self.delete(request, state, None).await,
            },
        }
    }

    /// The event's current state: the payload when it can be trusted, else fetched.
    /// `None` when the Events API says the event no longer exists.
    async fn current_event(
        &self,
        request: &JobRequest,
        state: &SyncState,
    ) -> Result<Option<Event>, SyncError> {
        let payload = request
            .payload
            .as_ref()
            .map(|value| serde_json::from_value::<Event>(value.clone()))
            .transpose()
            .map_err(SyncError::Payload)?;
        let trusted = match request.origin {
            PayloadOrigin::EventsApi => true,
            PayloadOrigin::NotificationComplete => self.fetch == FetchPolicy::WhenIncomplete,
            PayloadOrigin::NotificationPartial | PayloadOrigin::None => false,
        };
        if let Some(event) = &payload
            && trusted
            && !request.force_fetch
            && !state.tombstone
        {
            return Ok(Some(event.clone()));
        }
        let calendar = request
            .calendar_id
            .clone()
            .or_else(|| state.calendar_id.clone())
            .or_else(|| payload.as_ref().and_then(|event| event.calendar_id.clone()));
        let guessed = calendar.is_none();
        let calendar = calendar.unwrap_or_else(|| "primary".to_string());
        let fetched = self
            .nylas
            .get_event(&request.grant_id, &request.record_key, &calendar)
            .await
            .map_err(SyncError::Nylas)?;
        match fetched {
            Some(event) => Ok(Some(event)),
            None if !guessed || state.tombstone => Ok(None),
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

    /// Upserts the record for a live event.
    async fn upsert(
        &self,
        request: &JobRequest,
        mut state: SyncState,
        event: Event,
    ) -> Result<SyncOutcome, SyncError> {
        let version = event.updated_at;
        if !state.tombstone
            && let (Some(version), Some(written)) = (version, state.version)
            && version < written
        {
            return Ok(SyncOutcome::Stale);
        }
        let source = match request.origin {
            PayloadOrigin::EventsApi => Source::SelectedCalendars,
            _ => Source::AnyCalendar,
        };
        let record = match self.policy.decide(&event, &request.grant_id, source).await {
            Ok(Decision::Write(record)) => *record,
            // Filtered out: no record, exactly as if the event had been deleted.
            Ok(Decision::Remove(_)) => return self.delete(request, state, version).await,
            Err(PolicyError::Mapping(error)) => return Err(SyncError::Mapping(error)),
            Err(PolicyError::Nylas(error)) => return Err(SyncError::Nylas(error)),
        };
        let hash = record.content_hash();
        let newest = version.max(state.version);
        if !state.tombstone
            && !state.create_pending
            && state.crm_record_id.is_some()
            && state.content_hash.as_deref() == Some(hash.as_str())
        {
            if newest != state.version {
                state.version = newest;
                state.updated_at = Some(self.clock.now());
                self.store.save_state(&state).await?;
            }
            return Ok(SyncOutcome::Unchanged);
        }
        let known_id = state.crm_record_id.clone();
        let existing = match (&known_id, state.create_pending) {
            (_, true) => ExistingRecord::Uncertain,
            (Some(id), false) => ExistingRecord::Known(id),
            (None, false) => ExistingRecord::None,
        };
        if existing == ExistingRecord::None {
            state.create_pending = true;
            state.updated_at = Some(self.clock.now());
            self.store.save_state(&state).await?;
        }
        let outcome = self
            .crm
            .upsert(&record, existing)
            .await
            .map_err(SyncError::Crm)?;
        record_crm_id(&outcome.crm_record_id);
        state.crm_record_id = Some(outcome.crm_record_id);
        state.version = newest;
        state.content_hash = Some(hash);
        state.tombstone = false;
        state.create_pending = false;
        state.grant_id = Some(record.grant_id.clone());
        state.calendar_id = event.calendar_id.or_else(|| request.calendar_id.clone());
        state.updated_at = Some(self.clock.now());
        self.store.save_state(&state).await?;
        Ok(if outcome.created {
            SyncOutcome::Created
        } else {
            SyncOutcome::Updated
        })
    }

    /// Soft-deletes the record (if we created one) and leaves a tombstone.
    async fn delete(
        &self,
        request: &JobRequest,
        mut state: SyncState,
        version: Option<i64>,
    ) -> Result<SyncOutcome, SyncError> {
        let outcome = match (&state.crm_record_id, state.tombstone) {
            (Some(crm_id), false) => {
                self.crm
                    .soft_delete(&request.record_key, crm_id)
                    .await
                    .map_err(SyncError::Crm)?;
                SyncOutcome::Deleted
            }
            _ => {
                if state.create_pending {
                    tracing::warn!(
                        "The event was deleted while its create was unconfirmed; the CRM may hold a record calsync cannot name."
                    );
                }
                SyncOutcome::NothingToDelete
            }
        };
        state.tombstone = true;
        state.create_pending = false;
        state.version = version.max(state.version);
        if state.grant_id.is_none() {
            state.grant_id = Some(request.grant_id.clone());
        }
        state.updated_at = Some(self.clock.now());
        self.store.save_state(&state).await?;
        Ok(outcome)
    }
}
