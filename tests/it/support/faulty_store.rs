//! [`FaultyStore`]: the real store behind a switch that makes every write fail the way SQLite
//! fails when it cannot commit (a full disk, a lock held beyond the busy timeout). Reads keep
//! working, as they do on a full or locked SQLite database.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use calsync::ids::{EventId, GrantId, MeetingKey, TargetId};
use calsync::store::{
    ClaimedJob, Completion, Coordination, DeadLetter, DeadLetterSelection, DeadLetters,
    GrantStatus, Grants, IncomingNotification, IngestOutcome, JobQueue, JobRequest, JobStats,
    Lease, Lifecycle, MeetingCopy, MeetingLedger, NotificationFilter, NotificationLog, Occurrence,
    QueueEntry, RetryPlan, SeriesKey, SeriesRecord, SeriesStore, Store, StoreError,
    StoredNotification, SyncState, SyncStates,
};
use jiff::Timestamp;
use tokio::sync::Notify;

/// Delegates to `inner`; while [`FaultyStore::fail_writes`] is on, every write fails.
pub struct FaultyStore {
    inner: Arc<dyn Store>,
    failing: AtomicBool,
    refused: AtomicUsize,
}

impl FaultyStore {
    /// Wraps `inner`, healthy.
    pub fn new(inner: Arc<dyn Store>) -> Arc<FaultyStore> {
        Arc::new(FaultyStore {
            inner,
            failing: AtomicBool::new(false),
            refused: AtomicUsize::new(0),
        })
    }

    /// Makes writes fail (true) or work again (false).
    pub fn fail_writes(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    /// How many writes were refused so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    fn write(&self) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            self.refused.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Unavailable(sqlx::Error::Io(
                std::io::Error::other("database or disk is full (injected)"),
            )))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl Lifecycle for FaultyStore {
    fn backend(&self) -> &'static str {
        self.inner.backend()
    }

    async fn close(&self) {
        self.inner.close().await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }
}

#[async_trait]
impl NotificationLog for FaultyStore {
    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        self.write()?;
        self.inner.ingest(batch, now).await
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        self.inner.list_notifications(filter).await
    }

    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.write()?;
        self.inner.prune_notifications(before).await
    }
}

#[async_trait]
impl JobQueue for FaultyStore {
    fn wakeups(&self) -> Arc<Notify> {
        self.inner.wakeups()
    }

    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError> {
        self.write()?;
        self.inner.enqueue(jobs, now).await
    }

    async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        self.write()?;
        self.inner.claim(owner, now, lease_for, limit).await
    }

    async fn claim_key(
        &self,
        record_key: &EventId,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        self.write()?;
        self.inner
            .claim_key(record_key, owner, now, lease_for)
            .await
    }

    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.extend_lease(lease, now, lease_for).await
    }

    async fn complete(&self, lease: &Lease, now: Timestamp) -> Result<Completion, StoreError> {
        self.write()?;
        self.inner.complete(lease, now).await
    }

    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError> {
        self.write()?;
        self.inner.retry(lease, plan, now).await
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        self.write()?;
        self.inner.dead_letter(lease, error, now).await
    }

    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        self.write()?;
        self.inner.release(lease, now).await
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        self.inner.next_due_at().await
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        self.inner.job_stats(now).await
    }

    async fn queue_entry(&self, record_key: &EventId) -> Result<QueueEntry, StoreError> {
        self.inner.queue_entry(record_key).await
    }
}

#[async_trait]
impl SyncStates for FaultyStore {
    async fn load_state(
        &self,
        target: &TargetId,
        record_key: &EventId,
    ) -> Result<Option<SyncState>, StoreError> {
        self.inner.load_state(target, record_key).await
    }

    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError> {
        self.write()?;
        self.inner.save_state(state).await
    }
}

#[async_trait]
impl DeadLetters for FaultyStore {
    async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.list_dead_letters(limit).await
    }

    async fn retry_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        self.write()?;
        self.inner.retry_dead_letters(selection, now).await
    }
}

#[async_trait]
impl Grants for FaultyStore {
    async fn set_grant_status(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.write()?;
        self.inner.set_grant_status(grant_id, status, now).await
    }

    async fn grant_status(&self, grant_id: &GrantId) -> Result<GrantStatus, StoreError> {
        self.inner.grant_status(grant_id).await
    }

    async fn paused_grants(&self) -> Result<u64, StoreError> {
        self.inner.paused_grants().await
    }
}

#[async_trait]
impl Coordination for FaultyStore {
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.get_cursor(name).await
    }

    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        self.write()?;
        self.inner.put_cursor(name, value, now).await
    }

    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError> {
        self.write()?;
        self.inner.delete_cursors(prefix).await
    }

    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.write()?;
        self.inner.try_lock(name, owner, now, ttl).await
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        self.write()?;
        self.inner.release_lock(name, owner).await
    }
}

/// Series operations go to the inner store unfaulted.
#[async_trait]
impl SeriesStore for FaultyStore {
    async fn load_series(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>, StoreError> {
        self.inner.load_series(key).await
    }

    async fn series_occurrences(&self, key: &SeriesKey) -> Result<Vec<Occurrence>, StoreError> {
        self.inner.series_occurrences(key).await
    }

    async fn add_occurrences(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        self.inner
            .add_occurrences(key, calendar_id, occurrences)
            .await
    }

    async fn record_expansion(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[EventId],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.inner
            .record_expansion(key, calendar_id, through, gone, now)
            .await
    }

    async fn mark_series_deleted(&self, key: &SeriesKey, now: Timestamp) -> Result<(), StoreError> {
        self.inner.mark_series_deleted(key, now).await
    }

    async fn series_to_refresh(
        &self,
        grant_id: &GrantId,
        through: i64,
        limit: usize,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        self.inner.series_to_refresh(grant_id, through, limit).await
    }
}

/// The ledger's writes fail with the store's; reads keep working.
#[async_trait]
impl MeetingLedger for FaultyStore {
    async fn record_copy(&self, copy: &MeetingCopy, now: Timestamp) -> Result<EventId, StoreError> {
        self.write()?;
        self.inner.record_copy(copy, now).await
    }

    async fn copy(
        &self,
        grant_id: &GrantId,
        event_id: &EventId,
    ) -> Result<Option<MeetingCopy>, StoreError> {
        self.inner.copy(grant_id, event_id).await
    }

    async fn copies_of_event(&self, event_id: &EventId) -> Result<Vec<MeetingCopy>, StoreError> {
        self.inner.copies_of_event(event_id).await
    }

    async fn copies_of_meeting(
        &self,
        meeting_key: &MeetingKey,
    ) -> Result<Vec<MeetingCopy>, StoreError> {
        self.inner.copies_of_meeting(meeting_key).await
    }

    async fn record_key(&self, meeting_key: &MeetingKey) -> Result<Option<EventId>, StoreError> {
        self.inner.record_key(meeting_key).await
    }
}
