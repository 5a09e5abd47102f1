//! Recurring series on SQLite: [`SeriesStore`] with the shared SQL of
//! [`crate::store::series`]; reads use the read pool, writes the single write
//! connection, checked against the database file like every write.
//!
//! Invariant: the two writes that change several rows (a complete listing, a deleted master)
//! are one transaction each.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqliteStore, db_error};
use crate::store::StoreError;
use crate::store::series::{self, Occurrence, SeriesKey, SeriesRecord, SeriesStore};

#[async_trait]
impl SeriesStore for SqliteStore {
    async fn load_series(&self, key: &SeriesKey) -> Result<Option<SeriesRecord>, StoreError> {
        series::exec::load(&self.read, key, db_error).await
    }

    async fn series_occurrences(&self, key: &SeriesKey) -> Result<Vec<Occurrence>, StoreError> {
        series::exec::occurrences(&self.read, key, db_error).await
    }

    async fn add_occurrences(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        occurrences: &[Occurrence],
    ) -> Result<(), StoreError> {
        self.checked(series::exec::add(
            &self.write,
            key,
            calendar_id,
            occurrences,
            db_error,
        ))
        .await
    }

    async fn record_expansion(
        &self,
        key: &SeriesKey,
        calendar_id: Option<&str>,
        through: i64,
        gone: &[String],
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.checked(series::exec::expanded(
            &self.write,
            key,
            calendar_id,
            through,
            gone,
            now,
            db_error,
        ))
        .await
    }

    async fn mark_series_deleted(&self, key: &SeriesKey, now: Timestamp) -> Result<(), StoreError> {
        self.checked(series::exec::deleted(&self.write, key, now, db_error))
            .await
    }

    async fn series_to_refresh(
        &self,
        grant_id: &str,
        through: i64,
        limit: usize,
    ) -> Result<Vec<SeriesRecord>, StoreError> {
        series::exec::to_refresh(&self.read, grant_id, through, limit, db_error).await
    }
}
