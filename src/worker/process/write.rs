//! Step 2 of the write path: bring a meeting's CRM record in line with all its copies, under the
//! meeting's named lock.
//!
//! Copies of grants that were deleted (disconnected reps) count as deleted: only connected
//! calendars keep a meeting alive.
//!
//! Invariants: one writer per meeting at a time, across workers and replicas (the lock
//! `meeting:<key>`, renewed before every CRM call, released after, also when the job is
//! cancelled). The lock's owner is the job's key: only one job per key is in flight (its lease),
//! so the job that takes over a crashed or interrupted job's lease takes over its meeting lock
//! at once instead of waiting for it to expire. The record keeps the event id it was bound to (the
//! job's record key), whichever copy its content comes from; no CRM call when the resolved content hashes to what was last
//! written; a create at most once per meeting (`create_pending`, as before meetings existed).

use std::sync::Arc;
use std::time::Duration;

use crate::config::DeletedMeetings;
use crate::crm::ExistingRecord;
use crate::ids::{EventId, GrantId, MeetingKey};
use crate::meeting::{self, Resolution};
use crate::record::{MeetingRecord, MeetingStatus};
use crate::store::{CopyStatus, GrantStatus, MeetingCopy, Store, SyncState};

use super::{Processor, SyncError, SyncOutcome, record_crm_id};

/// How often a job waiting for a meeting's lock asks again.
const LOCK_POLL: Duration = Duration::from_millis(25);
/// How long a job waits for a meeting's lock before it gives up (and retries later, without
/// counting an attempt).
const LOCK_WAIT: Duration = Duration::from_secs(10);

impl Processor {
    /// Writes the meeting `meeting_key` (its record bound to the event id `record_key`) from all
    /// its copies; `owner` names the lock's holder (the job's key).
    pub(super) async fn write_meeting(
        &self,
        meeting_key: &MeetingKey,
        record_key: &EventId,
        owner: &str,
    ) -> Result<SyncOutcome, SyncError> {
        let lock = format!("meeting:{meeting_key}");
        self.lock_meeting(&lock, owner).await?;
        let mut held = HeldLock {
            store: Some(self.store.clone()),
            lock,
            owner: owner.to_string(),
            taken_at: self.clock.now(),
        };
        let result = self.write_locked(meeting_key, record_key, &held).await;
        held.store = None;
        if let Err(error) = self.store.release_lock(&held.lock, owner).await {
            tracing::warn!(
                error = %crate::cause::Chain(&error),
                "Could not release the meeting's lock; it expires by itself."
            );
        }
        result
    }

    /// Takes the meeting's lock, waiting while another job holds it.
    async fn lock_meeting(&self, lock: &str, owner: &str) -> Result<(), SyncError> {
        let mut waited = Duration::ZERO;
        loop {
            let now = self.clock.now();
            if self
                .store
                .try_lock(lock, owner, now, self.meeting_lock)
                .await?
            {
                return Ok(());
            }
            if waited >= LOCK_WAIT {
                return Err(SyncError::MeetingBusy);
            }
            // The holder may be waiting on a batch: that batch must not wait for this job.
            let _parked = self.park();
            tokio::time::sleep(LOCK_POLL).await;
            waited += LOCK_POLL;
        }
    }

    /// Renews the lock before a CRM call once a third of it has passed, so a slow job cannot
    /// outlive it unnoticed.
    async fn renew_lock(&self, held: &HeldLock) -> Result<(), SyncError> {
        let now = self.clock.now();
        let elapsed = now.duration_since(held.taken_at).unsigned_abs();
        if elapsed < self.meeting_lock / 3 {
            return Ok(());
        }
        match self
            .store
            .try_lock(&held.lock, &held.owner, now, self.meeting_lock)
            .await?
        {
            true => Ok(()),
            false => Err(SyncError::MeetingBusy),
        }
    }

    async fn write_locked(
        &self,
        meeting_key: &MeetingKey,
        record_key: &EventId,
        held: &HeldLock,
    ) -> Result<SyncOutcome, SyncError> {
        let mut copies = self.store.copies_of_meeting(meeting_key).await?;
        self.disconnected_count_as_deleted(&mut copies).await?;
        let organizers = self.organizer_grants(&copies).await;
        let state = self
            .store
            .load_state(self.crm.target(), record_key)
            .await?
            .unwrap_or_else(|| SyncState {
                target: self.crm.target().clone(),
                record_key: record_key.clone(),
                ..SyncState::default()
            });
        if let Some(id) = &state.crm_record_id {
            record_crm_id(id.as_str());
        }
        let version = copies.iter().filter_map(|copy| copy.version).max();
        let written = state.content_hash.as_deref();
        let (copy, status) = match meeting::resolve(&copies, &organizers, written) {
            Resolution::Live(copy) => (copy, None),
            Resolution::Cancelled(copy) => (copy, Some(MeetingStatus::Cancelled)),
            // Filtered out, not cancelled: no record, whatever `deleted_meetings` says.
            Resolution::Removed(_) if meeting::any_excluded(&copies) => {
                return self.remove(state, version, held).await;
            }
            Resolution::Removed(content) => match (self.deleted_meetings, content) {
                (DeletedMeetings::Cancel, Some(copy))
                    if state.crm_record_id.is_some() || state.create_pending =>
                {
                    (copy, Some(MeetingStatus::Cancelled))
                }
                (DeletedMeetings::Cancel, None) if state.crm_record_id.is_some() => {
                    tracing::warn!(
                        "Every copy of the meeting is deleted and none was ever read (recorded before meetings were tracked): archiving its record instead of marking it cancelled."
                    );
                    return self.remove(state, version, held).await;
                }
                _ => return self.remove(state, version, held).await,
            },
        };
        let record = record_of(copy, record_key.clone(), status)?;
        self.upsert(record, state, version, copy, held).await
    }

    /// A copy in the calendar of a grant that was deleted (`grant.deleted`: the rep is no longer
    /// connected) no longer keeps the meeting alive: it counts as deleted, keeping its content.
    async fn disconnected_count_as_deleted(
        &self,
        copies: &mut [MeetingCopy],
    ) -> Result<(), SyncError> {
        for copy in copies.iter_mut() {
            if copy.status != CopyStatus::Deleted
                && matches!(
                    self.store.grant_status(&copy.grant_id).await?,
                    GrantStatus::Deleted { .. }
                )
            {
                copy.status = CopyStatus::Deleted;
            }
        }
        Ok(())
    }

    /// The grants whose copy is the organizer's, among copies tied for newest (asked only then).
    async fn organizer_grants(&self, copies: &[MeetingCopy]) -> Vec<GrantId> {
        let mut organizers = Vec::new();
        for copy in meeting::contenders(copies) {
            let organizer = copy
                .content
                .as_ref()
                .and_then(|content| content.get("organizer_email"))
                .and_then(|email| email.as_str());
            let Some(organizer) = organizer else { continue };
            match self.policy.grants().email(copy.grant_id.as_str()).await {
                Ok(Some(email)) if email == organizer => organizers.push(copy.grant_id.clone()),
                Ok(_) => {}
                Err(error) => tracing::warn!(
                    grant.id = %copy.grant_id,
                    error = %crate::cause::Chain(&*error),
                    "Could not read the grant's email; its copy does not count as the organizer's."
                ),
            }
        }
        organizers
    }

    /// Upserts the meeting's record with `record` (the content of `copy`).
    async fn upsert(
        &self,
        record: MeetingRecord,
        mut state: SyncState,
        version: Option<i64>,
        copy: &MeetingCopy,
        held: &HeldLock,
    ) -> Result<SyncOutcome, SyncError> {
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
        let existing = match (&state.crm_record_id, state.create_pending) {
            (_, true) => ExistingRecord::Uncertain,
            (Some(id), false) => ExistingRecord::Known(id),
            (None, false) => ExistingRecord::None,
        };
        self.renew_lock(held).await?;
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
        record_crm_id(outcome.crm_record_id.as_str());
        state.crm_record_id = Some(outcome.crm_record_id);
        state.version = newest;
        state.content_hash = Some(hash);
        state.tombstone = false;
        state.create_pending = false;
        state.grant_id = Some(record.grant_id.clone());
        state.calendar_id = copy.calendar_id.clone();
        state.updated_at = Some(self.clock.now());
        self.store.save_state(&state).await?;
        Ok(if outcome.created {
            SyncOutcome::Created
        } else {
            SyncOutcome::Updated
        })
    }

    /// Soft-deletes the meeting's record (if one was created) and leaves a tombstone.
    async fn remove(
        &self,
        mut state: SyncState,
        version: Option<i64>,
        held: &HeldLock,
    ) -> Result<SyncOutcome, SyncError> {
        let outcome = match (&state.crm_record_id, state.tombstone) {
            (Some(crm_id), false) => {
                self.renew_lock(held).await?;
                self.crm
                    .soft_delete(&state.record_key, crm_id)
                    .await
                    .map_err(SyncError::Crm)?;
                SyncOutcome::Deleted
            }
            _ => {
                if state.create_pending {
                    tracing::warn!(
                        "The meeting was deleted while its create was unconfirmed; the CRM may hold a record calsync cannot name."
                    );
                }
                SyncOutcome::NothingToDelete
            }
        };
        state.tombstone = true;
        state.create_pending = false;
        state.version = version.max(state.version);
        state.updated_at = Some(self.clock.now());
        self.store.save_state(&state).await?;
        Ok(outcome)
    }
}

/// A meeting lock held by a job that may be cancelled mid-way (shutdown): dropped while still
/// armed, it releases the lock in the background so the meeting's other copies need not wait
/// for it to expire.
struct HeldLock {
    /// Set while armed.
    store: Option<Arc<dyn Store>>,
    lock: String,
    owner: String,
    taken_at: jiff::Timestamp,
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let Some(store) = self.store.take() else {
            return;
        };
        let lock = std::mem::take(&mut self.lock);
        let owner = std::mem::take(&mut self.owner);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(error) = store.release_lock(&lock, &owner).await {
                    tracing::warn!(
                        error = %crate::cause::Chain(&error),
                        "Could not release an interrupted job's meeting lock; it expires by itself."
                    );
                }
            });
        }
    }
}

/// The record a copy's content maps to, written under the meeting's event id (the job's record
/// key), with its status forced when the meeting's state decides it.
fn record_of(
    copy: &MeetingCopy,
    event_id: EventId,
    status: Option<MeetingStatus>,
) -> Result<MeetingRecord, SyncError> {
    let content = copy.content.clone().unwrap_or_default();
    let mut record = MeetingRecord::from_stored(content).map_err(SyncError::CopyContent)?;
    record.event_id = event_id;
    if let Some(status) = status {
        record.meeting_status = status;
    }
    Ok(record)
}
