//! Grant status on PostgreSQL ([`Grants`], SQL in [`crate::store::grants`]). A deletion takes the
//! grant-deletion fence exclusively (see `enqueue`) before marking the grant and dropping its
//! jobs, so no replica's concurrent enqueue can leave one behind; a resumption `NOTIFY`s every
//! replica in the same transaction.

use async_trait::async_trait;
use jiff::Timestamp;
use sqlx::Postgres;
use sqlx::postgres::PgConnection;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, commit, db_error};
use crate::ids::GrantId;
use crate::store::grants::{Grants, exec};
use crate::store::{GrantChange, GrantStatus, StoreError};

/// Applies a grant change from a notification inside the caller's transaction (which holds the
/// fence exclusively when the change is a deletion); true when the grant was resumed.
pub(super) async fn apply_change(
    conn: &mut PgConnection,
    grant_id: &GrantId,
    change: GrantChange,
    now: Timestamp,
) -> Result<bool, StoreError> {
    exec::apply_change::<Postgres>(conn, grant_id, change, now, db_error).await
}

/// The grants among `grant_ids` that are deleted.
pub(super) async fn deleted_among(
    conn: &mut PgConnection,
    grant_ids: &[&str],
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT grant_id FROM grants WHERE status = 'deleted' AND grant_id = ANY($1::text[])",
    )
    .bind(grant_ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error)
}

#[async_trait]
impl Grants for PostgresStore {
    async fn set_grant_status(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut tx = begin(&self.pool).await?;
        if matches!(status, GrantStatus::Deleted { .. }) {
            enqueue::fence(&mut tx, Fence::DeleteGrant).await?;
        }
        let resumed =
            exec::set_status::<Postgres>(&mut tx, grant_id, status, now, db_error).await?;
        if resumed {
            enqueue::notify(&mut tx).await?;
        }
        commit(tx).await?;
        self.wake(resumed);
        Ok(())
    }

    async fn grant_status(&self, grant_id: &GrantId) -> Result<GrantStatus, StoreError> {
        exec::status(&self.pool, grant_id, db_error).await
    }

    async fn paused_grants(&self) -> Result<u64, StoreError> {
        exec::count_paused(&self.pool, db_error).await
    }
}
