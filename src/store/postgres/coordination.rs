//! Cursors and named locks on PostgreSQL ([`Coordination`], SQL in
//! [`crate::store::coordination`]). When replicas contend for a lock, PostgreSQL serializes
//! their upserts on the lock's row and re-evaluates the condition against the committed row.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{PostgresStore, db_error};
use crate::store::StoreError;
use crate::store::coordination::{Coordination, exec};

#[async_trait]
impl Coordination for PostgresStore {
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        exec::get_cursor(&self.pool, name, db_error).await
    }

    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        exec::put_cursor(&self.pool, name, value, now, db_error).await
    }

    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError> {
        exec::delete_cursors(&self.pool, prefix, db_error).await
    }

    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        exec::try_lock(&self.pool, name, owner, now, ttl, db_error).await
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        exec::release_lock(&self.pool, name, owner, db_error).await
    }
}
