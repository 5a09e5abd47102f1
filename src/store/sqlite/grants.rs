//! Grant status on SQLite ([`crate::store::Grants`], implemented once with its SQL in
//! [`crate::store::grants`]): a change from a notification runs inside ingest's transaction
//! ([`apply_change`]).
//!
//! Invariant: a request for a deleted grant makes no job ([`is_deleted`], asked by
//! `enqueue::enqueue_one` on the same transaction as its upsert).

use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::db_error;
use crate::ids::GrantId;
use crate::store::grants::exec;
use crate::store::{GrantChange, StoreError};

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
