//! The meeting ledger on PostgreSQL (see [`crate::store::meetings`] for the invariants).
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
use crate::store::codec::millis;
use crate::store::meetings::{
    self, BIND_MEETING, COPIES_OF_EVENT, COPIES_OF_MEETING, COPY, MeetingCopy, MeetingLedger,
    RECORD_KEY, UPSERT_COPY,
};

impl PostgresStore {
    async fn record_copy_now(
        &self,
        copy: &MeetingCopy,
        now: Timestamp,
    ) -> Result<String, StoreError> {
        let (status, content) = meetings::encoded(copy);
        let mut tx = begin(&self.pool).await?;
        sqlx::query(UPSERT_COPY)
            .bind(&copy.grant_id)
            .bind(&copy.event_id)
            .bind(&copy.meeting_key)
            .bind(status)
            .bind(copy.version)
            .bind(&copy.calendar_id)
            .bind(content)
            .bind(&copy.content_hash)
            .bind(millis(copy.updated_at))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        sqlx::query(BIND_MEETING)
            .bind(&copy.meeting_key)
            .bind(&copy.event_id)
            .bind(millis(now))
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
        let record_key: String = sqlx::query_scalar(RECORD_KEY)
            .bind(&copy.meeting_key)
            .fetch_one(&mut *tx)
            .await
            .map_err(db_error)?;
        commit(tx).await?;
        Ok(record_key)
    }

    async fn select_copies(
        &self,
        query: &'static str,
        values: &[&str],
    ) -> Result<Vec<MeetingCopy>, StoreError> {
        let mut query = sqlx::query(query);
        for value in values {
            query = query.bind(*value);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(db_error)?;
        rows.iter().map(meetings::copy_from_row).collect()
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
        let copies = self.select_copies(COPY, &[grant_id, event_id]).await?;
        Ok(copies.into_iter().next())
    }

    async fn copies_of_event(&self, event_id: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        self.select_copies(COPIES_OF_EVENT, &[event_id]).await
    }

    async fn copies_of_meeting(&self, meeting_key: &str) -> Result<Vec<MeetingCopy>, StoreError> {
        self.select_copies(COPIES_OF_MEETING, &[meeting_key]).await
    }

    async fn record_key(&self, meeting_key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar(RECORD_KEY)
            .bind(meeting_key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_error)
    }
}
