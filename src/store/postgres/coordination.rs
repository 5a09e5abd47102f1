//! Cursors and named locks on PostgreSQL: small shared facts that let periodic tasks resume where
//! they stopped and run on one replica at a time (the reconciliation lock).
//!
//! Invariants: a lock is held by one owner until its expiry; only that owner renews it before
//! then, anyone may take it after. Taking or renewing is one conditional upsert: when replicas
//! contend, PostgreSQL serializes them on the lock's row and re-evaluates the condition against
//! the committed row, so two contenders cannot both succeed.

use std::time::Duration;

use jiff::Timestamp;
use sqlx::postgres::PgPool;

use super::db_error;
use crate::store::StoreError;
use crate::store::codec::{millis, millis_after};

/// Reads a named cursor.
pub(super) async fn get_cursor(pool: &PgPool, name: &str) -> Result<Option<String>, StoreError> {
    sqlx::query_scalar("SELECT value FROM cursors WHERE name = $1")
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(db_error)
}

/// Writes a named cursor.
pub(super) async fn put_cursor(
    pool: &PgPool,
    name: &str,
    value: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
    )
    .bind(name)
    .bind(value)
    .bind(millis(now))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(())
}

/// Deletes the cursors whose name starts with `prefix` (compared literally, no wildcards).
pub(super) async fn delete_cursors(pool: &PgPool, prefix: &str) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM cursors WHERE starts_with(name, $1)")
        .bind(prefix)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(result.rows_affected())
}

/// Takes or renews a lock until `now + ttl`; false when another owner holds it unexpired.
pub(super) async fn try_lock(
    pool: &PgPool,
    name: &str,
    owner: &str,
    now: Timestamp,
    ttl: Duration,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO locks AS l (name, owner, leased_until) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,
             leased_until = excluded.leased_until
         WHERE l.owner = excluded.owner OR l.leased_until <= $4",
    )
    .bind(name)
    .bind(owner)
    .bind(millis_after(now, ttl))
    .bind(millis(now))
    .execute(pool)
    .await
    .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}

/// Releases a lock `owner` holds (deletes it); another owner's lock is left alone.
pub(super) async fn release_lock(pool: &PgPool, name: &str, owner: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM locks WHERE name = $1 AND owner = $2")
        .bind(name)
        .bind(owner)
        .execute(pool)
        .await
        .map_err(db_error)?;
    Ok(())
}
