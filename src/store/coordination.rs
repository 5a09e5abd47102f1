//! Cursors and named locks ([`Coordination`]): small shared facts that let periodic tasks resume
//! where they stopped and run on one replica at a time (the reconciliation lock).
//!
//! Invariants every backend keeps (the conformance suite checks each): a lock is held by one
//! owner until its expiry; only that owner renews it before then, anyone may take it after.
//! Taking or renewing is one conditional upsert, so two contenders cannot both succeed (on
//! PostgreSQL they serialize on the lock's row and the condition is re-evaluated against the
//! committed row; on SQLite writes are serialized anyway).
//!
//! The SQL is written once (`exec`) for both backends, which accept it as written.

use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;

use super::StoreError;
use super::portable::Engine;

/// Named cursors and named locks.
#[async_trait]
pub trait Coordination: Send + Sync {
    /// Reads a named cursor (backfill page tokens, reconciliation watermarks).
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Writes a named cursor.
    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError>;

    /// Deletes cursors whose name starts with `prefix`; returns how many.
    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Takes or renews a named lock for `owner` until `now + ttl`; false when another owner holds
    /// it unexpired. Used so one replica runs periodic tasks (reconciliation).
    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// Releases a named lock held by `owner` (clean shutdown), so the next process takes it at
    /// once; does nothing when another owner holds it.
    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError>;
}

#[async_trait]
impl<E: Engine> Coordination for E {
    async fn get_cursor(&self, name: &str) -> Result<Option<String>, StoreError> {
        exec::get_cursor(self.reads(), name, E::classify).await
    }

    async fn put_cursor(&self, name: &str, value: &str, now: Timestamp) -> Result<(), StoreError> {
        self.guarded(exec::put_cursor(
            self.writes(),
            name,
            value,
            now,
            E::classify,
        ))
        .await
    }

    async fn delete_cursors(&self, prefix: &str) -> Result<u64, StoreError> {
        self.guarded(exec::delete_cursors(self.writes(), prefix, E::classify))
            .await
    }

    async fn try_lock(
        &self,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let write = exec::try_lock(self.writes(), name, owner, now, ttl, E::classify);
        self.guarded(write).await
    }

    /// Not guarded: a process shutting down releases its lock even after losing its file.
    async fn release_lock(&self, name: &str, owner: &str) -> Result<(), StoreError> {
        exec::release_lock(self.writes(), name, owner, E::classify).await
    }
}

/// The statements and their generic execution over a pool of either backend.
pub(in crate::store) mod exec {
    use std::time::Duration;

    use crate::store::StoreError;
    use crate::store::codec::{get, millis, millis_after};
    use crate::store::portable::{Classify, Param, Portable};
    use jiff::Timestamp;

    /// The value of cursor `$1`.
    const GET_CURSOR: &str = "SELECT value FROM cursors WHERE name = $1";

    /// Sets cursor `$1` to `$2` at `$3` (ms).
    const PUT_CURSOR: &str = "\
INSERT INTO cursors (name, value, updated_at) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

    /// Deletes the cursors whose name starts with `$1`, compared literally (no wildcards).
    const DELETE_CURSORS: &str = "DELETE FROM cursors WHERE substr(name, 1, length($1)) = $1";

    /// Lock `$1` for owner `$2` until `$3`, unless another owner holds it past `$4` (now).
    const TRY_LOCK: &str = "\
INSERT INTO locks (name, owner, leased_until) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, leased_until = excluded.leased_until
WHERE locks.owner = excluded.owner OR locks.leased_until <= $4";

    /// Releases lock `$1` if owner `$2` holds it.
    const RELEASE_LOCK: &str = "DELETE FROM locks WHERE name = $1 AND owner = $2";

    /// [`super::Coordination::get_cursor`].
    pub async fn get_cursor<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        name: &str,
        classify: Classify,
    ) -> Result<Option<String>, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let row = DB::fetch_optional(&mut conn, GET_CURSOR, &[name.into()])
            .await
            .map_err(classify)?;
        row.as_ref().map(|row| get(row, "value")).transpose()
    }

    /// [`super::Coordination::put_cursor`].
    pub async fn put_cursor<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        name: &str,
        value: &str,
        now: Timestamp,
        classify: Classify,
    ) -> Result<(), StoreError> {
        changed(
            pool,
            PUT_CURSOR,
            &[name.into(), value.into(), millis(now).into()],
            classify,
        )
        .await?;
        Ok(())
    }

    /// [`super::Coordination::delete_cursors`]; the count of rows deleted.
    pub async fn delete_cursors<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        prefix: &str,
        classify: Classify,
    ) -> Result<u64, StoreError> {
        changed(pool, DELETE_CURSORS, &[prefix.into()], classify).await
    }

    /// [`super::Coordination::try_lock`].
    pub async fn try_lock<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        name: &str,
        owner: &str,
        now: Timestamp,
        ttl: Duration,
        classify: Classify,
    ) -> Result<bool, StoreError> {
        let values = [
            Param::from(name),
            owner.into(),
            millis_after(now, ttl).into(),
            millis(now).into(),
        ];
        Ok(changed(pool, TRY_LOCK, &values, classify).await? > 0)
    }

    /// [`super::Coordination::release_lock`].
    pub async fn release_lock<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        name: &str,
        owner: &str,
        classify: Classify,
    ) -> Result<(), StoreError> {
        changed(pool, RELEASE_LOCK, &[name.into(), owner.into()], classify).await?;
        Ok(())
    }

    /// Runs one write on a connection of `pool`; how many rows it changed.
    async fn changed<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        sql: &'static str,
        values: &[Param<'_>],
        classify: Classify,
    ) -> Result<u64, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        DB::execute(&mut conn, sql, values).await.map_err(classify)
    }
}
