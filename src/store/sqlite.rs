//! The SQLite backend: one embedded database file, for a single calsync process (plus short CLI
//! commands such as `calsync dlq retry` running beside it).
//!
//! Connections and durability:
//! - WAL journal, `synchronous=FULL` (every commit is fsync'd before it returns), foreign keys on,
//!   a busy timeout so a second process waits for the write lock instead of failing at once.
//! - All writes go through one dedicated single-connection pool, so writers in this process queue
//!   in the pool and never contend inside SQLite; reads use a separate small pool (WAL readers
//!   never block the writer). An in-memory database (`sqlite::memory:`, `mode=memory`) uses the
//!   one connection for both.
//! - A write transaction that reads before it writes starts with `BEGIN IMMEDIATE`: it takes the
//!   write lock up front, so another process waits on the busy timeout rather than failing later
//!   when its read snapshot could not be upgraded.
//!
//! Healing and file loss: after a failed commit the write connection is replaced when SQLite and
//! sqlx disagree about an open transaction (`connection`), so the store works again as soon as
//! the cause (a full disk, an I/O error, a held lock) goes away. Every write is checked against
//! the database file the store opened (`file`): once that file is deleted or replaced, writes
//! fail with [`StoreError::Detached`] until a restart, and no write that landed in the old file
//! is reported as committed.
//!
//! Error mapping: a bad URL, a connection that cannot be opened and a failed migration are
//! [`StoreError::Setup`]; undecodable rows and a damaged file are [`StoreError::Corrupt`];
//! everything else at run time (busy or locked database, I/O error, disk full, pool closed) is
//! [`StoreError::Unavailable`], which callers retry later.
//!
//! Timestamps are stored at millisecond precision.
mod connection;
mod coordination;
mod dead_letters;
mod enqueue;
mod file;
mod grants;
mod jobs;
mod meetings;
mod notifications;
mod series;
mod state;
mod stats;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::SqlitePool;
use tokio::sync::Notify;

use self::connection::{Pools, begin_write, commit, db_error, open_existing_pools, open_pools};
use self::file::{DatabaseFile, Moment};
use super::{
    ClaimedJob, Completion, DeadLetter, DeadLetterSelection, GrantStatus, IncomingNotification,
    IngestOutcome, JobRequest, JobStats, Lease, NotificationFilter, QueueEntry, QueuePolicy,
    RetryPlan, Store, StoreError, StoredNotification, SyncState,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The single connection every write goes through.
    write: SqlitePool,
    /// Connections for reads.
    read: SqlitePool,
    /// The database file, checked around every write (`None` in memory).
    file: Option<Arc<DatabaseFile>>,
    wakeups: Arc<Notify>,
    /// How enqueued jobs are scheduled (coalescing).
    policy: QueuePolicy,
}

impl SqliteStore {
    /// Opens the database a `sqlite://PATH[?mode=…]` URL names (creating the file if missing,
    /// unless `mode=ro`), and runs the migrations.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let Pools { write, read, file } = open_pools(url).await?;
        Ok(Self {
            write,
            read,
            file: file.map(Arc::new),
            wakeups: Arc::new(Notify::new()),
            policy: QueuePolicy::IMMEDIATE,
        })
    }

    /// Opens an existing database to read it (see [`crate::store::open_existing`]): the file is
    /// neither created nor migrated, and every write fails.
    pub async fn open_existing(url: &str) -> Result<Self, StoreError> {
        let Pools { write, read, file } = open_existing_pools(url).await?;
        Ok(Self {
            write,
            read,
            file: file.map(Arc::new),
            wakeups: Arc::new(Notify::new()),
            policy: QueuePolicy::IMMEDIATE,
        })
    }

    /// Schedules enqueued jobs by `policy` (coalescing); the default is
    /// [`QueuePolicy::IMMEDIATE`].
    pub fn with_queue_policy(self, policy: QueuePolicy) -> Self {
        Self { policy, ..self }
    }

    /// Closes both pools, waiting for their connections to finish (a clean shutdown).
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }

    /// Runs a write unless the database file is gone, and reports it failed when the file went
    /// away while it ran (see `file`).
    async fn checked<T>(
        &self,
        write: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let Some(file) = &self.file else {
            return write.await;
        };
        file.check(Moment::Before).await?;
        match write.await {
            Ok(value) => {
                file.check(Moment::Committed).await?;
                Ok(value)
            }
            Err(error) => {
                file.check(Moment::Before).await?;
                Err(error)
            }
        }
    }

    fn wake(&self, changed: bool) {
        if changed {
            self.wakeups.notify_waiters();
        }
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn wakeups(&self) -> Arc<Notify> {
        self.wakeups.clone()
    }

    fn series(&self) -> &dyn crate::store::SeriesStore {
        self
    }

    async fn close(&self) {
        SqliteStore::close(self).await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if let Some(file) = &self.file {
            file.check(Moment::Before).await?;
        }
        sqlx::query("SELECT 1")
            .execute(&self.read)
            .await
            .map(|_| ())
            .map_err(db_error)
    }

    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let (outcomes, changed) = self
            .checked(notifications::ingest(&self.write, batch, now, &self.policy))
            .await?;
        self.wake(changed);
        Ok(outcomes)
    }

    async fn enqueue(&self, jobs: &[JobRequest], now: Timestamp) -> Result<(), StoreError> {
        let changed = self
            .checked(enqueue::enqueue(&self.write, jobs, now, &self.policy))
            .await?;
        self.wake(changed);
        Ok(())
    }

    async fn claim(
        &self,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
        limit: usize,
    ) -> Result<Vec<ClaimedJob>, StoreError> {
        self.checked(jobs::claim(&self.write, owner, now, lease_for, limit))
            .await
    }

    async fn claim_key(
        &self,
        record_key: &str,
        owner: &str,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<Option<ClaimedJob>, StoreError> {
        self.checked(jobs::claim_key(
            &self.write,
            record_key,
            owner,
            now,
            lease_for,
        ))
        .await
    }

    async fn extend_lease(
        &self,
        lease: &Lease,
        now: Timestamp,
        lease_for: Duration,
    ) -> Result<bool, StoreError> {
        self.checked(jobs::extend_lease(&self.write, lease, now, lease_for))
            .await
    }

    async fn complete(&self, lease: &Lease, _now: Timestamp) -> Result<Completion, StoreError> {
        let completion = self.checked(jobs::complete(&self.write, lease)).await?;
        self.wake(completion == Completion::Requeued);
        Ok(completion)
    }

    async fn retry(
        &self,
        lease: &Lease,
        plan: &RetryPlan,
        now: Timestamp,
    ) -> Result<Completion, StoreError> {
        let (completion, changed) = self
            .checked(jobs::retry(&self.write, lease, plan, now))
            .await?;
        self.wake(changed);
        Ok(completion)
    }

    async fn dead_letter(
        &self,
        lease: &Lease,
        error: &str,
        now: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        let (id, released) = self
            .checked(jobs::dead_letter(&self.write, lease, error, now))
            .await?;
        self.wake(released);
        Ok(id)
    }

    async fn release(&self, lease: &Lease, now: Timestamp) -> Result<(), StoreError> {
        let released = self.checked(jobs::release(&self.write, lease, now)).await?;
        self.wake(released);
        Ok(())
    }

    async fn next_due_at(&self) -> Result<Option<Timestamp>, StoreError> {
        stats::next_due_at(&self.read).await
    }

    async fn job_stats(&self, now: Timestamp) -> Result<JobStats, StoreError> {
        stats::job_stats(&self.read, now).await
    }

    async fn load_state(
        &self,
        target: &str,
        record_key: &str,
    ) -> Result<Option<SyncState>, StoreError> {
        state::load(&self.read, target, record_key).await
    }

    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError> {
        self.checked(state::save(&self.write, state)).await
    }

    fn meetings(&self) -> &dyn super::MeetingLedger {
        self
    }

    async fn queue_entry(&self, record_key: &str) -> Result<QueueEntry, StoreError> {
        crate::store::lookup::queue_entry(&self.read, record_key, db_error).await
    }

    async fn list_dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        dead_letters::list(&self.read, limit).await
    }

    async fn retry_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<u64, StoreError> {
        let (requeued, changed) = self
            .checked(dead_letters::retry(
                &self.write,
                selection,
                now,
                &self.policy,
            ))
            .await?;
        self.wake(changed);
        Ok(requeued)
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        notifications::list(&self.read, filter).await
    }

    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.checked(notifications::prune(&self.write, before))
            .await
    }

    async fn set_grant_status(
        &self,
        grant_id: &str,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let resumed = self
            .checked(grants::set_status(&self.write, grant_id, status, now))
            .await?;
        self.wake(resumed);
        Ok(())
    }

    async fn paused_grants(&self) -> Result<u64, StoreError> {
        grants::count_paused(&self.read).await
    }

    async fn grant_status(&self, grant_id: &str) -> Result<GrantStatus, StoreError> {
        grants::status(&self.read, grant_id).await
    }

    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        coordination::get_cursor(&self.read, name).await
    }

    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        self.checked(coordination::put_cursor(&self.write, name, value, now))
            .await
    }

    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError> {
        self.checked(coordination::delete_cursors(&self.write, prefix))
            .await
    }

    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.checked(coordination::try_lock(&self.write, name, owner, now, ttl))
            .await
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        coordination::release_lock(&self.write, name, owner).await
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn in_memory_databases_work() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        store
            .put_cursor("c", "v", Timestamp::UNIX_EPOCH)
            .await
            .unwrap();
        assert_eq!(store.get_cursor("c").await.unwrap().as_deref(), Some("v"));
        store.close().await;
    }
}
