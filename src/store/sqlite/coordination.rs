//! Cursors and named locks on SQLite ([`Coordination`], SQL in [`crate::store::coordination`]):
//! reads on the read pool, writes on the single write connection, checked against the database
//! file (except releasing a lock, which a shutting-down process does even after losing it).

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::{SqliteStore, db_error};
use crate::store::StoreError;
use crate::store::coordination::{Coordination, exec};

#[async_trait]
impl Coordination for SqliteStore {
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        exec::get_cursor(&self.read, name, db_error).await
    }

    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        self.checked(exec::put_cursor(&self.write, name, value, now, db_error))
            .await
    }

    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError> {
        self.checked(exec::delete_cursors(&self.write, prefix, db_error))
            .await
    }

    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.checked(exec::try_lock(&self.write, name, owner, now, ttl, db_error))
            .await
    }

    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        exec::release_lock(&self.write, name, owner, db_error).await
    }
}
