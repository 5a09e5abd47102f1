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
mod dead_letters;
mod engine;
mod enqueue;
mod file;
mod grants;
mod jobs;
mod notifications;
mod rows;

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
#[cfg(test)]
use jiff::Timestamp;
use sqlx::sqlite::SqlitePool;
use tokio::sync::Notify;

use self::connection::{Pools, begin_write, commit, db_error, open_existing_pools, open_pools};
use self::file::{DatabaseFile, Moment};
use super::{Lifecycle, QueuePolicy, StoreError};

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
        Ok(Self::over(open_pools(url).await?))
    }

    /// Opens an existing database to read it (see [`crate::store::open_existing`]): the file is
    /// neither created nor migrated, and every write fails.
    pub async fn open_existing(url: &str) -> Result<Self, StoreError> {
        Ok(Self::over(open_existing_pools(url).await?))
    }

    /// A store over opened pools, scheduling jobs by [`QueuePolicy::IMMEDIATE`].
    fn over(Pools { write, read, file }: Pools) -> Self {
        Self {
            write,
            read,
            file: file.map(Arc::new),
            wakeups: Arc::new(Notify::new()),
            policy: QueuePolicy::IMMEDIATE,
        }
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
}

#[async_trait]
impl Lifecycle for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Coordination;

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
