//! Sync state ([`SyncStates`]): what was last written to each target for each record.
//!
//! Invariants every backend keeps (the conformance suite checks each): one row per (target,
//! record key); saving replaces every column, so the row is exactly the last state saved. Only
//! the holder of the key's job lease writes a key's state, so workers (and replicas) never race
//! on one row.
//!
//! The SQL is written once (`exec`) for both backends, which accept it as written; the backends
//! only choose the pool and classify errors.

use async_trait::async_trait;

use super::portable::Engine;
use super::{StoreError, SyncState};
use crate::ids::{EventId, TargetId};

/// The sync states of records in targets.
#[async_trait]
pub trait SyncStates: Send + Sync {
    /// The sync state of a record (its record key: the event id it was bound to) in a target;
    /// typed, so the two cannot be swapped.
    async fn load_state(
        &self,
        target: &TargetId,
        record_key: &EventId,
    ) -> Result<Option<SyncState>, StoreError>;

    /// Writes (inserts or replaces) a sync state.
    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError>;
}

#[async_trait]
impl<E: Engine> SyncStates for E {
    async fn load_state(
        &self,
        target: &TargetId,
        record_key: &EventId,
    ) -> Result<Option<SyncState>, StoreError> {
        exec::load(self.reads(), target, record_key, E::classify).await
    }

    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError> {
        self.guarded(exec::save(self.writes(), state, E::classify))
            .await
    }
}

/// The statements and their generic execution over a pool of either backend.
pub(in crate::store) mod exec {
    use crate::ids::{EventId, TargetId};
    use crate::store::codec::{self, millis};
    use crate::store::portable::{Classify, Param, Portable};
    use crate::store::{StoreError, SyncState};

    /// The state of (`$1` target, `$2` record key).
    const LOAD: &str = "\
SELECT target, record_key, crm_record_id, version, content_hash, tombstone, create_pending,
       grant_id, calendar_id, updated_at
FROM sync_state WHERE target = $1 AND record_key = $2";

    /// Inserts or replaces a whole state row.
    const SAVE: &str = "\
INSERT INTO sync_state (target, record_key, crm_record_id, version, content_hash, tombstone,
                        create_pending, grant_id, calendar_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
ON CONFLICT (target, record_key) DO UPDATE SET
    crm_record_id = excluded.crm_record_id,
    version = excluded.version,
    content_hash = excluded.content_hash,
    tombstone = excluded.tombstone,
    create_pending = excluded.create_pending,
    grant_id = excluded.grant_id,
    calendar_id = excluded.calendar_id,
    updated_at = excluded.updated_at";

    /// [`super::SyncStates::load_state`].
    pub async fn load<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        target: &TargetId,
        record_key: &EventId,
        classify: Classify,
    ) -> Result<Option<SyncState>, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let row = DB::fetch_optional(&mut conn, LOAD, &[target.into(), record_key.into()])
            .await
            .map_err(classify)?;
        row.as_ref().map(codec::state_from_row).transpose()
    }

    /// [`super::SyncStates::save_state`].
    pub async fn save<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        state: &SyncState,
        classify: Classify,
    ) -> Result<(), StoreError> {
        let values = [
            Param::from(&state.target),
            (&state.record_key).into(),
            state.crm_record_id.as_ref().into(),
            state.version.into(),
            state.content_hash.as_deref().into(),
            state.tombstone.into(),
            state.create_pending.into(),
            state.grant_id.as_ref().into(),
            state.calendar_id.as_deref().into(),
            state.updated_at.map(millis).into(),
        ];
        let mut conn = pool.acquire().await.map_err(classify)?;
        DB::execute(&mut conn, SAVE, &values)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
