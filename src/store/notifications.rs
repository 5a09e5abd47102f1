//! The notification log ([`NotificationLog`]): every verified notification, stored once, and
//! ingest, which stores a batch and applies what it causes.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - **Durable ingest.** [`NotificationLog::ingest`] commits a whole batch in one transaction
//!   with full durability before returning; a failure stores none of it.
//! - A notification id is stored once (later copies, in the same batch or another, are
//!   [`IngestOutcome::Duplicate`]), and only a newly stored notification applies its grant change
//!   and then its job (through the coalescing enqueue).
//! - Listing returns notifications oldest first, ties in arrival order.
//!
//! Implemented once over `portable::Engine`: listing and pruning are written once (`exec`, in the
//! engine's arrival order); ingest is the engine's hook (SQLite one row at a time on its single
//! writer, PostgreSQL a handful of multi-row statements).

use std::future::Future;

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoredNotification;
use super::portable::Engine;
use super::{IncomingNotification, IngestOutcome, NotificationFilter, StoreError};

/// The log of notifications received, and ingest.
#[async_trait]
pub trait NotificationLog: Send + Sync {
    /// Stores a batch of notifications in one durable transaction; one outcome per notification,
    /// in order. Applies their jobs and grant changes.
    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError>;

    /// Logged notifications matching the filter, oldest first.
    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError>;

    /// Deletes logged notifications received before `before`; returns how many.
    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError>;
}

/// What a backend supplies for the notification log beyond [`Engine`]: ingest (SQLite row by row,
/// PostgreSQL multi-row) and its arrival order.
pub(in crate::store) trait IngestEngine: Engine {
    /// The listing (`$1` since, `$2` until, `$3` event id) in the engine's arrival order
    /// (`exec::LIST_BY_ROWID`, `exec::LIST_BY_SEQ`).
    const BY_ARRIVAL: &'static str;

    /// Stores a non-empty batch in one transaction, unguarded (the shared implementation guards
    /// it and wakes); one outcome per notification, and whether any job became claimable.
    fn ingest_batch(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> impl Future<Output = Result<(Vec<IngestOutcome>, bool), StoreError>> + Send;
}

#[async_trait]
impl<E: IngestEngine> NotificationLog for E {
    async fn ingest(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let write = async {
            if batch.is_empty() {
                return Ok((Vec::new(), false));
            }
            self.ingest_batch(batch, now).await
        };
        let (outcomes, changed) = self.guarded(write).await?;
        self.wake(changed);
        Ok(outcomes)
    }

    async fn list_notifications(
        &self,
        filter: &NotificationFilter,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        exec::list(self.reads(), E::BY_ARRIVAL, filter, E::classify).await
    }

    async fn prune_notifications(&self, before: Timestamp) -> Result<u64, StoreError> {
        self.guarded(exec::prune(self.writes(), before, E::classify))
            .await
    }
}

/// The log's matching rows before their ordering (a macro so `concat!` can build `'static` SQL).
macro_rules! select_notifications {
    () => {
        "SELECT id, trigger, grant_id, event_id, received_at, body FROM notifications
         WHERE (CAST($1 AS BIGINT) IS NULL OR received_at >= $1)
           AND (CAST($2 AS BIGINT) IS NULL OR received_at < $2)
           AND (CAST($3 AS TEXT) IS NULL OR event_id = $3)"
    };
}

/// The statements and their generic execution over either backend.
pub(in crate::store) mod exec {
    use crate::store::codec::{self, get, millis};
    use crate::store::portable::{Cells, Classify, Param, Portable};
    use crate::store::{NotificationFilter, StoreError, StoredNotification};
    use jiff::Timestamp;

    /// Notifications matching (`$1` since, `$2` until, `$3` event id), in SQLite's arrival order
    /// (`rowid`).
    pub const LIST_BY_ROWID: &str =
        concat!(select_notifications!(), " ORDER BY received_at, rowid");

    /// The same, in PostgreSQL's arrival order (`seq`, numbered at insert).
    pub const LIST_BY_SEQ: &str = concat!(select_notifications!(), " ORDER BY received_at, seq");

    /// Deletes the notifications received before `$1`.
    const PRUNE: &str = "DELETE FROM notifications WHERE received_at < $1";

    /// [`super::NotificationLog::list_notifications`] by `query` ([`LIST_BY_ROWID`] or
    /// [`LIST_BY_SEQ`], the backend's arrival order).
    pub async fn list<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        query: &'static str,
        filter: &NotificationFilter,
        classify: Classify,
    ) -> Result<Vec<StoredNotification>, StoreError> {
        let values = [
            Param::from(filter.since.map(millis)),
            filter.until.map(millis).into(),
            filter.event_id.as_ref().into(),
        ];
        let mut conn = pool.acquire().await.map_err(classify)?;
        let rows = DB::fetch_all(&mut conn, query, &values)
            .await
            .map_err(classify)?;
        rows.iter().map(notification_from_row).collect()
    }

    fn notification_from_row(row: &impl Cells) -> Result<StoredNotification, StoreError> {
        Ok(StoredNotification {
            id: get(row, "id")?,
            trigger: get(row, "trigger")?,
            grant_id: get(row, "grant_id")?,
            event_id: get(row, "event_id")?,
            received_at: codec::timestamp(get(row, "received_at")?)?,
            body: get(row, "body")?,
        })
    }

    /// [`super::NotificationLog::prune_notifications`].
    pub async fn prune<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        before: Timestamp,
        classify: Classify,
    ) -> Result<u64, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        DB::execute(&mut conn, PRUNE, &[millis(before).into()])
            .await
            .map_err(classify)
    }
}
