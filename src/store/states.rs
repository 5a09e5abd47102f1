//! Sync state ([`SyncStates`]): what was last written to each target for each record.
//!
//! Invariants every backend keeps (the conformance suite checks each): one row per (target,
//! record key); saving replaces every column, so the row is exactly the last state saved. Only
//! the holder of the key's job lease writes a key's state, so workers (and replicas) never race
//! on one row.
//!
//! The SQL is written once ([`exec`]) for both backends, which accept it as written; the backends
//! only choose the pool and classify errors.

use async_trait::async_trait;

use super::{StoreError, SyncState};

/// The sync states of records in targets.
#[async_trait]
pub trait SyncStates: Send + Sync {
    /// The sync state of a record in a target.
    async fn load_state(
        &self,
        target: &str,
        record_key: &str,
    ) -> Result<Option<SyncState>, StoreError>;

    /// Writes (inserts or replaces) a sync state.
    async fn save_state(&self, state: &SyncState) -> Result<(), StoreError>;
}

/// The statements and their generic execution over a pool of either backend.
pub(in crate::store) mod exec {
    use sqlx::{ColumnIndex, Decode, Encode, Type};

    use crate::store::codec::{self, millis};
    use crate::store::portable::Classify;
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
    pub async fn load<DB>(
        pool: &sqlx::Pool<DB>,
        target: &str,
        record_key: &str,
        classify: Classify,
    ) -> Result<Option<SyncState>, StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'c> &'c str: ColumnIndex<DB::Row>,
        for<'r> String: Decode<'r, DB> + Type<DB>,
        for<'r> i64: Decode<'r, DB> + Type<DB>,
        for<'r> bool: Decode<'r, DB> + Type<DB>,
    {
        let row = sqlx::query::<DB>(LOAD)
            .bind(target)
            .bind(record_key)
            .fetch_optional(pool)
            .await
            .map_err(classify)?;
        row.as_ref().map(codec::state_from_row).transpose()
    }

    /// [`super::SyncStates::save_state`].
    pub async fn save<DB>(
        pool: &sqlx::Pool<DB>,
        state: &SyncState,
        classify: Classify,
    ) -> Result<(), StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
        for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
        for<'q> bool: Encode<'q, DB> + Type<DB>,
    {
        sqlx::query::<DB>(SAVE)
            .bind(state.target.as_str())
            .bind(state.record_key.as_str())
            .bind(state.crm_record_id.as_deref())
            .bind(state.version)
            .bind(state.content_hash.as_deref())
            .bind(state.tombstone)
            .bind(state.create_pending)
            .bind(state.grant_id.as_deref())
            .bind(state.calendar_id.as_deref())
            .bind(state.updated_at.map(millis))
            .execute(pool)
            .await
            .map_err(classify)?;
        Ok(())
    }
}
