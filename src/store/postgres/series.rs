//! Recurring series on PostgreSQL: [`SeriesStore`] with the shared SQL of
//! [`crate::store::series`].
//!
//! Invariant: the two writes that change several rows (a complete listing, a deleted master)
//! are one transaction each.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PostgresStore, db_error};
use crate::store::StoreError;
use crate::store::series::{self, Occurrence, SeriesKey, SeriesRecord, SeriesStore};

#[async_trait]
impl SeriesStore for PostgresStore {
    async fn load_series(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>, StoreError> {
        series::exec::load(&self.pool, key, db_error).await
    }

    async fn series_occurrences(&self, key: &SeriesKey) -> Result<Vec<Occurrence>, StoreError> {
        series::exec::occurrences(&self.pool, key, db_error).await
    }

    async fn add_occurrences(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        series::exec::add(&self.pool, key, calendar_id, occurrences, db_error).await
    }

    async fn record_expansion(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        series::exec::expanded(&self.pool, key, calendar_id, through, gone, now, db_error).await
    }

    async fn mark_series_deleted(&self, key: &SeriesKey, now: Timestamp) -> Result<(), StoreError> {
        series::exec::deleted(&self.pool, key, now, db_error).await
    }

    async fn series_to_refresh(
        &self,
        grant_id: &str,
        through: i64,
        limit: usize,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        series::exec::to_refresh(&self.pool, grant_id, through, limit, db_error).await
    }
}
