//! The meeting ledger on PostgreSQL (see [`crate::store::meetings`] for the invariants), with
//! the shared statements of [`crate::store::meetings::exec`].
//!
//! Recording a copy and binding its meeting happen in one transaction. Two replicas binding one
//! meeting at once both insert with `ON CONFLICT DO NOTHING`: the second waits on the first's
//! unique-index entry, inserts nothing, and its next statement (READ COMMITTED) reads the
//! first's binding.

use async_trait::async_trait;
use jiff::Timestamp;

use super::PostgresStore;
use super::connection::{begin, commit, db_error};
use crate::store::StoreError;
use crate::store::meetings::{
    COPIES_OF_EVENT, COPIES_OF_MEETING, COPY, MeetingCopy, MeetingLedger, exec,
};

impl PostgresStore {
    async fn record_copy_now(
        &self,
        copy: &MeetingCopy,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let mut tx = begin(&self.pool).await?;
        let record_key = exec::record::<sqlx::Postgres>(&mut tx, copy, now, db_error).await?;
        commit(tx).await?;
        Ok(record_key)
    }
}

#[async_trait]
impl MeetingLedger for PostgresStore {
    async fn record_copy(&self, copy: &MeetingCopy, now: Timestamp) -> Result<String, StoreError> {
        self.record_copy_now(copy, now).await
    }

    async fn copy(
        &self,
        grant_id: &str,
        event_id: &str,
    ) -> Result<Option<MeetingCopy>, StoreError> {
        let copies = exec::copies(&self.pool, COPY, &[grant_id, event_id], db_error).await?;
        Ok(copies.into_iter().next())
    }

    async fn copies_of_event(&self, event_id: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        exec::copies(&self.pool, COPIES_OF_EVENT, &[event_id], db_error).await
    }

    async fn copies_of_meeting(&self, meeting_key: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        exec::copies(&self.pool, COPIES_OF_MEETING, &[meeting_key], db_error).await
    }

    async fn record_key(&self, meeting_key: &str) -> Result<Option<String>, StoreError> {
        exec::record_key(&self.pool, meeting_key, db_error).await
    }
}
