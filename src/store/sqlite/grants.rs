//! Grant status on SQLite: which grants' jobs may run.
//!
//! Invariants: a grant without a row is active. A deleted grant has no jobs: deleting it drops
//! them in the same transaction, and enqueueing for it is refused (see `enqueue::enqueue_one`).
//! Notifications never revive a deleted grant, and a repeated `grant.expired` keeps the time the
//! pause began; [`set_status`] (an explicit decision) sets whatever it is given.

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::{begin_write, commit, db_error};
use crate::store::codec::{self, millis};
use crate::store::{GrantChange, GrantStatus, StoreError};

/// `grant.expired`: pause an active grant (a paused one keeps its `since`).
const PAUSE: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES (?1, 'paused', ?2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status = 'active'";

/// `grant.updated`: resume a paused grant.
const RESUME: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES (?1, 'active', ?2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status = 'paused'";

/// `grant.deleted`: delete a grant not deleted yet.
const DELETE: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES (?1, 'deleted', ?2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status <> 'deleted'";

/// An explicit status change.
const SET: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES (?1, ?2, ?3)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since";

/// Whether the grant is deleted.
pub(super) async fn is_deleted(
    conn: &mut SqliteConnection,
    grant_id: &str,
) -> Result<bool, StoreError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT status FROM grants WHERE grant_id = ?1")
            .bind(grant_id)
            .fetch_optional(&mut *conn)
            .await
            .map_err(db_error)?;
    Ok(status.as_deref() == Some("deleted"))
}

/// Applies a grant change from a notification (inside the caller's transaction); true when the
/// grant was resumed, so its jobs became claimable.
pub(super) async fn apply_change(
    conn: &mut SqliteConnection,
    grant_id: &str,
    change: GrantChange,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let sql = match change {
        GrantChange::Expired => PAUSE,
        GrantChange::Updated => RESUME,
        GrantChange::Deleted => DELETE,
    };
    let result = sqlx::query(sql)
        .bind(grant_id)
        .bind(millis(now))
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    if change == GrantChange::Deleted {
        drop_jobs(conn, grant_id).await?;
    }
    Ok(change == GrantChange::Updated && result.rows_affected() > 0)
}

async fn drop_jobs(conn: &mut SqliteConnection, grant_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM jobs WHERE grant_id = ?1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Sets a grant's status; `Deleted` also drops its jobs. True when the grant is now active (its
/// jobs may have become claimable).
pub(super) async fn set_status(
    write: &SqlitePool,
    grant_id: &str,
    status: &GrantStatus,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (text, since) = match status {
        GrantStatus::Active => ("active", now),
        GrantStatus::Paused { since } => ("paused", *since),
        GrantStatus::Deleted { at } => ("deleted", *at),
    };
    let mut tx = begin_write(write).await?;
    sqlx::query(SET)
        .bind(grant_id)
        .bind(text)
        .bind(millis(since))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if matches!(status, GrantStatus::Deleted { .. }) {
        drop_jobs(&mut tx, grant_id).await?;
    }
    commit(tx).await?;
    Ok(matches!(status, GrantStatus::Active))
}

/// How many grants are paused.
pub(super) async fn count_paused(read: &SqlitePool) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE status = 'paused'")
        .fetch_one(read)
        .await
        .map_err(db_error)?;
    u64::try_from(count)
        .map_err(|_| StoreError::Corrupt(format!("the paused grant count is negative: {count}")))
}

/// A grant's status (`Active` when never recorded).
pub(super) async fn status(read: &SqlitePool, grant_id: &str) -> Result<GrantStatus, StoreError> {
    let row = sqlx::query("SELECT status, since FROM grants WHERE grant_id = ?1")
        .bind(grant_id)
        .fetch_optional(read)
        .await
        .map_err(db_error)?;
    codec::grant_status_from_row(grant_id, row.as_ref())
}
