//! Sync state on PostgreSQL: what was last written to each target for each record.
//!
//! Invariant: one row per (target, record key); saving replaces every column, so the row is
//! exactly the last state saved. Only the holder of the key's job lease writes a key's state, so
//! replicas never race on one row.

use sqlx::postgres::PgPool;

use super::db_error;
use crate::store::codec::{self, millis};
use crate::store::{StoreError, SyncState};

/// The sync state of a record in a target.
pub(super) async fn load(
    pool: &PgPool,
    target: &str,
    record_key: &str,
) -> Result<Option<SyncState>, StoreError> {
    let row = sqlx::query(
        "SELECT target, record_key, crm_record_id, version, content_hash, tombstone,
                create_pending, grant_id, calendar_id, updated_at
         FROM sync_state WHERE target = $1 AND record_key = $2",
    )
    .bind(target)
    .bind(record_key)
    .fetch_optional(pool)
    .await
    .map_err(db_error)?;
    row.as_ref().map(codec::state_from_row).transpose()
}

/// Inserts or replaces a sync state.
pub(super) async fn save(pool: &PgPool, state: &SyncState) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO sync_state (target, record_key, crm_record_id, version, content_hash,
             tombstone, create_pending, grant_id, calendar_id, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (target, record_key) DO UPDATE SET
             crm_record_id = excluded.crm_record_id,
             version = excluded.version,
             content_hash = excluded.content_hash,
             tombstone = excluded.tombstone,
             create_pending = excluded.create_pending,
             grant_id = excluded.grant_id,
             calendar_id = excluded.calendar_id,
             updated_at = excluded.updated_at",
    )
    .bind(&state.target)
    .bind(&state.record_key)
    .bind(&state.crm_record_id)
    .bind(state.version)
    .bind(&state.content_hash)
    .bind(state.tombstone)
    .bind(state.create_pending)
    .bind(&state.grant_id)
    .bind(&state.calendar_id)
    .bind(state.updated_at.map(millis))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}
