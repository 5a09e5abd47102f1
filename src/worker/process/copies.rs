//! Step 1 of the write path: what a job says about its grant's copy of a meeting.
//!
//! Jobs are keyed by event id, and Google gives every attendee's copy the same id: two grants'
//! notifications for one id coalesce into one job, of one grant. So a job also re-reads the
//! other grants' live copies with its event id ([`Processor::refresh_siblings`]): an organizer's
//! deletion coalesced with an attendee's update is not lost.
//!
//! Invariants: a copy never goes back to an older version (a stale read records nothing); a
//! deleted copy keeps its last content and meeting; a deletion of an event this grant's copy
//! was never read for takes the meeting of another grant's copy with the same event id (Google
//! ids are shared), else the event id's own meeting — the one an upgraded deployment's record of
//! that event belongs to.

use crate::ids::{EventId, MeetingKey};
use crate::meeting;
use crate::nylas::Event;
use crate::policy::{Decision, PolicyError, Source};
use crate::record::MeetingRecord;
use crate::store::{
    CopyStatus, GrantStatus, JobAction, JobRequest, JobSource, MeetingCopy, PayloadOrigin,
};

use super::{Processor, SyncError};

/// What is known about the job's copy before the event is read.
#[derive(Debug, Default)]
pub(super) struct Known {
    /// The grant's copy as last recorded.
    pub copy: Option<MeetingCopy>,
    /// Another grant's copy of the same event id (when this grant's was never recorded).
    pub sibling_meeting: Option<MeetingKey>,
    /// The copy was deleted (or, before meetings were tracked, the event's record was): only
    /// the Events API may bring it back.
    pub deleted: bool,
    /// The newest version written for it.
    pub version: Option<i64>,
    pub calendar_id: Option<String>,
}

impl Processor {
    /// The copy to record for the job; `None` when the job read an older version than the one
    /// already recorded (stale).
    pub(super) async fn copy_of(
        &self,
        request: &JobRequest,
    ) -> Result<Option<MeetingCopy>, SyncError> {
        let known = self.known(request).await?;
        if request.action == JobAction::Delete {
            return Ok(Some(self.deleted_copy(request, known, request.version)));
        }
        let Some(event) = self.current_event(request, &known).await? else {
            return Ok(Some(self.deleted_copy(request, known, None)));
        };
        if !known.deleted
            && let (Some(version), Some(written)) = (event.updated_at, known.version)
            && version < written
        {
            return Ok(None);
        }
        // Only a listing of the selected calendars (backfill, reconciliation) has chosen the
        // calendar already; an event read for a notification, a series expanded for one, a
        // replay or a retried dead letter is checked against the calendar selection.
        let source = match (request.source, request.origin) {
            (JobSource::Backfill | JobSource::Reconcile, PayloadOrigin::EventsApi) => {
                Source::SelectedCalendars
            }
            _ => Source::AnyCalendar,
        };
        match self
            .policy
            .decide(&event, request.grant_id.as_str(), source)
            .await
        {
            Ok(Decision::Write(record)) => self.live_copy(request, known, event, *record).map(Some),
            // Left out of the CRM by policy: the copy no longer keeps its meeting alive.
            Ok(Decision::Remove(_)) => Ok(Some(self.excluded_copy(request, known, &event))),
            Err(PolicyError::Mapping(error)) => Err(SyncError::Mapping(error)),
            Err(PolicyError::Nylas(error)) => Err(SyncError::Nylas(error)),
        }
    }

    /// Records a copy; answers its meeting key and the meeting's record key.
    pub(super) async fn record(
        &self,
        copy: MeetingCopy,
    ) -> Result<(MeetingKey, EventId), SyncError> {
        let now = self.clock.now();
        let record_key = self.store.record_copy(&copy, now).await?;
        Ok((copy.meeting_key, record_key))
    }

    /// Re-reads the other grants' live copies with the job's event id (Google gives every
    /// attendee's copy the same id, so this job may stand for their notifications too: jobs
    /// coalesce by event id) and records what changed; answers the meeting of the last one
    /// recorded. A grant that is not active, or a read that fails, keeps its copy as recorded.
    pub(super) async fn refresh_siblings(
        &self,
        request: &JobRequest,
    ) -> Result<Option<(MeetingKey, EventId)>, SyncError> {
        let copies = self.store.copies_of_event(&request.record_key).await?;
        let mut recorded = None;
        for sibling in copies {
            if sibling.grant_id == request.grant_id || sibling.status == CopyStatus::Deleted {
                continue;
            }
            if self.store.grant_status(&sibling.grant_id).await? != GrantStatus::Active {
                continue;
            }
            let read = JobRequest {
                grant_id: sibling.grant_id.clone(),
                calendar_id: sibling.calendar_id.clone(),
                action: JobAction::Upsert,
                payload: None,
                origin: PayloadOrigin::None,
                version: None,
                force_fetch: true,
                ..request.clone()
            };
            match self.copy_of(&read).await {
                Ok(Some(copy)) if copy != sibling_as_recorded(&sibling, &copy) => {
                    recorded = Some(self.record(copy).await?);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    grant.id = %sibling.grant_id,
                    error = %crate::cause::Chain(&error),
                    "Could not re-read another grant's copy of the event; keeping it as recorded."
                ),
            }
        }
        Ok(recorded)
    }

    /// Reads what the store knows about the job's copy (or, for a deployment upgraded from
    /// before meetings were tracked, about the event's record).
    async fn known(&self, request: &JobRequest) -> Result<Known, SyncError> {
        let copies = self.store.copies_of_event(&request.record_key).await?;
        if let Some(copy) = copies.iter().find(|copy| copy.grant_id == request.grant_id) {
            return Ok(Known {
                deleted: copy.status == CopyStatus::Deleted,
                version: copy.version,
                calendar_id: copy.calendar_id.clone(),
                sibling_meeting: None,
                copy: Some(copy.clone()),
            });
        }
        let legacy = self
            .store
            .load_state(self.crm.target(), &request.record_key)
            .await?;
        Ok(Known {
            copy: None,
            sibling_meeting: copies.first().map(|copy| copy.meeting_key.clone()),
            deleted: legacy.as_ref().is_some_and(|state| state.tombstone),
            version: legacy.as_ref().and_then(|state| state.version),
            calendar_id: legacy.and_then(|state| state.calendar_id),
        })
    }

    /// The copy as deleted (by a delete job at `version`, or because the Events API no longer
    /// returns it).
    fn deleted_copy(
        &self,
        request: &JobRequest,
        known: Known,
        version: Option<i64>,
    ) -> MeetingCopy {
        let now = self.clock.now();
        match known.copy {
            Some(copy) => MeetingCopy {
                status: CopyStatus::Deleted,
                version: version.max(copy.version),
                updated_at: now,
                ..copy
            },
            None => MeetingCopy {
                grant_id: request.grant_id.clone(),
                event_id: request.record_key.clone(),
                meeting_key: known
                    .sibling_meeting
                    .unwrap_or_else(|| meeting::event_key(request.record_key.as_str())),
                status: CopyStatus::Deleted,
                version: version.max(known.version),
                calendar_id: request.calendar_id.clone().or(known.calendar_id),
                content: None,
                content_hash: None,
                updated_at: now,
            },
        }
    }

    /// The copy of an event the policy leaves out of the CRM (private under `skip`, filtered,
    /// on an unselected calendar): in the calendar, but keeping nothing alive. It keeps the
    /// content it last had, so nothing else about the meeting changes.
    fn excluded_copy(&self, request: &JobRequest, known: Known, event: &Event) -> MeetingCopy {
        let version = event.updated_at.max(known.version);
        let calendar_id = event
            .calendar_id
            .clone()
            .or_else(|| request.calendar_id.clone());
        let now = self.clock.now();
        match known.copy {
            Some(copy) => MeetingCopy {
                status: CopyStatus::Excluded,
                version,
                calendar_id: calendar_id.or(copy.calendar_id.clone()),
                updated_at: now,
                ..copy
            },
            None => MeetingCopy {
                grant_id: request.grant_id.clone(),
                event_id: request.record_key.clone(),
                meeting_key: meeting::meeting_key(event),
                status: CopyStatus::Excluded,
                version,
                calendar_id: calendar_id.or(known.calendar_id),
                content: None,
                content_hash: None,
                updated_at: now,
            },
        }
    }

    /// The copy of a live (or cancelled) event, with the record the policy wrote of it.
    fn live_copy(
        &self,
        request: &JobRequest,
        known: Known,
        event: Event,
        record: MeetingRecord,
    ) -> Result<MeetingCopy, SyncError> {
        let status = match record.meeting_status {
            crate::record::MeetingStatus::Cancelled => CopyStatus::Cancelled,
            _ => CopyStatus::Live,
        };
        let content = record.to_stored().map_err(SyncError::CopyContent)?;
        Ok(MeetingCopy {
            grant_id: request.grant_id.clone(),
            event_id: request.record_key.clone(),
            meeting_key: meeting::meeting_key(&event),
            status,
            version: event.updated_at.max(known.version),
            calendar_id: event
                .calendar_id
                .clone()
                .or_else(|| request.calendar_id.clone())
                .or(known.calendar_id),
            content_hash: Some(record.content_hash()),
            content: Some(content),
            updated_at: self.clock.now(),
        })
    }
}

/// The recorded copy with the new copy's time of recording, to compare the rest.
fn sibling_as_recorded(recorded: &MeetingCopy, read: &MeetingCopy) -> MeetingCopy {
    MeetingCopy {
        updated_at: read.updated_at,
        ..recorded.clone()
    }
}
