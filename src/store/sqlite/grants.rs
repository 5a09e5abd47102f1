//! Grant status on SQLite ([`Grants`], SQL in [`crate::store::grants`]). An explicit change is
//! one `BEGIN IMMEDIATE` transaction on the write connection; a change from a notification runs
//! inside ingest's transaction ([`apply_change`]).
//!
//! Invariant: a request for a deleted grant makes no job ([`is_deleted`], asked by
//! `enqueue::enqueue_one` on the same transaction as its upsert).

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::{SqliteStore, begin_write, commit, db_error};
use crate::ids::GrantId;
use crate::store::grants::{Grants, exec};
use crate::store::{GrantChange, GrantStatus, StoreError};

/// Whether the grant is deleted.
pub(super) async fn is_deleted(
    conn: &mut SqliteConnection,
    grant_id: &GrantId,
) -> Result<bool, StoreError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM grants WHERE grant_id = $1")
            .bind(grant_id.as_str())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    Ok(status.as_deref() == Some("deleted"))
}

/// Applies a grant change from a notification inside the caller's transaction; true when the
/// grant was resumed.
pub(super) async fn apply_change(
    conn: &mut SqliteConnection,
    grant_id: &GrantId,
    change: GrantChange,
    now: Timestamp,
) -> Result<bool, StoreError> {
    exec::apply_change::<sqlx::Sqlite>(conn, grant_id, change, now, db_error).await
}

impl SqliteStore {
    /// Sets a status in one transaction; true when the grant is now active.
    async fn set_grant_status_now(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let resumed =
            exec::set_status::<sqlx::Sqlite>(&mut tx, grant_id, status, now, db_error).await?;
        commit(tx).await?;
        Ok(resumed)
    }
}

#[async_trait]
impl Grants for SqliteStore {
    async fn set_grant_status(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let resumed = self
            .checked(self.set_grant_status_now(grant_id, status, now))
            .await?;
        self.wake(resumed);
        Ok(())
    }

    async fn grant_status(&self, grant_id: &GrantId) -> Result<GrantStatus, StoreError> {
        exec::status(&self.read, grant_id, db_error).await
    }

    async fn paused_grants(&self) -> Result<u64, StoreError> {
        exec::count_paused(&self.read, db_error).await
    }
}
