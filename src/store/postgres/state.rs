//! Sync state on PostgreSQL ([`SyncStates`], SQL in [`crate::store::states`]). Only the holder
//! of the key's job lease writes a key's state, so replicas never race on one row.

use async_trait::async_trait;

use super::{PostgresStore, db_error};
use crate::store::states::{SyncStates, exec};
use crate::store::{StoreError, SyncState};

#[async_trait]
impl SyncStates for PostgresStore {
    async fn load_state(
        &self,
        target: &str,
        record_key: &str,
    ) -> Result<Option<SyncState>, StoreError> {
        exec::load(&self.pool, target, record_key, db_error).await
    }

    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError> {
        exec::save(&self.pool, state, db_error).await
    }
}
