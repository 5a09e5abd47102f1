//! The meeting ledger on SQLite (see [`crate::store::meetings`] for the invariants), with the
//! shared statements of [`crate::store::meetings::exec`].
//!
//! Recording a copy and binding its meeting happen in one `BEGIN IMMEDIATE` transaction on the
//! single write connection, so the binding a copy reads back is the one committed with it.

use async_trait::async_trait;
use jiff::Timestamp;

use super::SqliteStore;
use super::connection::{begin_write, commit, db_error};
use crate::store::StoreError;
use crate::store::meetings::{
    COPIES_OF_EVENT, COPIES_OF_MEETING, COPY, MeetingCopy, MeetingLedger, exec,
};

impl SqliteStore {
    async fn record_copy_now(
        &self,
        copy: &MeetingCopy,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let record_key = exec::record::<sqlx::Sqlite>(&mut tx, copy, now, db_error).await?;
        commit(tx).await?;
        Ok(record_key)
    }
}

#[async_trait]
impl MeetingLedger for SqliteStore {
    async fn record_copy(&self, copy: &MeetingCopy, now: Timestamp) -> Result<String, StoreError> {
        self.checked(self.record_copy_now(copy, now)).await
    }

    async fn copy(
        &self,
        grant_id: &str,
        event_id: &str,
    ) -> Result<Option<MeetingCopy>, StoreError> {
        let copies = exec::copies(&self.read, COPY, &[grant_id, event_id], db_error).await?;
        Ok(copies.into_iter().next())
    }

    async fn copies_of_event(&self, event_id: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        exec::copies(&self.read, COPIES_OF_EVENT, &[event_id], db_error).await
    }

    async fn copies_of_meeting(&self, meeting_key: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        exec::copies(&self.read, COPIES_OF_MEETING, &[meeting_key], db_error).await
    }

    async fn record_key(&self, meeting_key: &str) -> Result<Option<String>, StoreError> {
        exec::record_key(&self.read, meeting_key, db_error).await
    }
}
