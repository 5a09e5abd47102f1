//! Grant status on PostgreSQL ([`crate::store::Grants`], implemented once with its SQL in
//! [`crate::store::grants`]): a change from a notification runs inside ingest's transaction
//! ([`apply_change`]); a deletion there and through the shared implementation takes the
//! grant-deletion fence exclusively (`Engine::fence_deletion`, see `enqueue`) so no replica's
//! concurrent enqueue can leave a job behind.

use jiff::Timestamp;
use sqlx::Postgres;
use sqlx::postgres::PgConnection;

use super::db_error;
use crate::ids::GrantId;
use crate::store::grants::exec;
use crate::store::{GrantChange, StoreError};

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
