//! Sync state on SQLite ([`SyncStates`], SQL in [`crate::store::states`]): reads on the read
//! pool, writes on the single write connection, checked against the database file.

use async_trait::async_trait;

use super::{SqliteStore, db_error};
use crate::store::states::{SyncStates, exec};
use crate::store::{StoreError, SyncState};

#[async_trait]
impl SyncStates for SqliteStore {
    async fn load_state(
        &self,
        target: &str,
        record_key: &str,
    ) -> Result<Option<SyncState>, StoreError> {
        exec::load(&self.read, target, record_key, db_error).await
    }

    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError> {
        self.checked(exec::save(&self.write, state, db_error)).await
    }
}
