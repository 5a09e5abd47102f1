//! Grant status on PostgreSQL: which grants' jobs may run.
//!
//! Invariants: a grant without a row is active. A deleted grant has no jobs: deleting it drops
//! them in the same transaction, under the grant-deletion fence (see `enqueue`), so no replica's
//! concurrent enqueue can leave one behind; enqueueing for it is refused. Notifications never
//! revive a deleted grant, and a repeated `grant.expired` keeps the time the pause began;
//! [`set_status`] (an explicit decision) sets whatever it is given. Each change is one
//! conditional upsert, so concurrent changes from several replicas serialize on the grant's row.

use jiff::Timestamp;
use sqlx::postgres::{PgConnection, PgPool};

use super::enqueue::{self, Fence};
use super::{begin, commit, db_error};
use crate::store::codec::{self, millis};
use crate::store::{GrantChange, GrantStatus, StoreError};

/// `grant.expired`: pause an active grant (a paused one keeps its `since`).
const PAUSE: &str = "\
INSERT INTO grants AS g (grant_id, status, since) VALUES ($1, 'paused', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE g.status = 'active'";

/// `grant.updated`: resume a paused grant.
const RESUME: &str = "\
INSERT INTO grants AS g (grant_id, status, since) VALUES ($1, 'active', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE g.status = 'paused'";

/// `grant.deleted`: delete a grant not deleted yet.
const DELETE: &str = "\
INSERT INTO grants AS g (grant_id, status, since) VALUES ($1, 'deleted', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE g.status <> 'deleted'";

/// An explicit status change.
const SET: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES ($1, $2, $3)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since";

/// Applies a grant change from a notification (inside the caller's transaction, which holds the
/// fence exclusively when the change is a deletion); true when the grant was resumed, so its
/// jobs became claimable.
pub(super) async fn apply_change(
    conn: &mut PgConnection,
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

async fn drop_jobs(conn: &mut PgConnection, grant_id: &str) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM jobs WHERE grant_id = $1")
        .bind(grant_id)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Sets a grant's status; `Deleted` also drops its jobs. True when the grant is now active (its
/// jobs may have become claimable; the commit notifies every replica).
pub(super) async fn set_status(
    pool: &PgPool,
    grant_id: &str,
    status: &GrantStatus,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (text, since) = match status {
        GrantStatus::Active => ("active", now),
        GrantStatus::Paused { since } => ("paused", *since),
        GrantStatus::Deleted { at } => ("deleted", *at),
    };
    let deleting = matches!(status, GrantStatus::Deleted { .. });
    let mut tx = begin(pool).await?;
    if deleting {
        enqueue::fence(&mut tx, Fence::DeleteGrant).await?;
    }
    sqlx::query(SET)
        .bind(grant_id)
        .bind(text)
        .bind(millis(since))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    if deleting {
        drop_jobs(&mut tx, grant_id).await?;
    }
    let resumed = matches!(status, GrantStatus::Active);
    if resumed {
        enqueue::notify(&mut tx).await?;
    }
    commit(tx).await?;
    Ok(resumed)
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

/// How many grants are paused.
pub(super) async fn count_paused(pool: &PgPool) -> Result<u64, StoreError> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM grants WHERE status = 'paused'")
        .fetch_one(pool)
        .await
        .map_err(db_error)?;
    u64::try_from(count)
        .map_err(|_| StoreError::Corrupt(format!("the paused grant count is negative: {count}")))
}

/// A grant's status (`Active` when never recorded).
pub(super) async fn status(pool: &PgPool, grant_id: &str) -> Result<GrantStatus, StoreError> {
    let row = sqlx::query("SELECT status, since FROM grants WHERE grant_id = $1")
        .bind(grant_id)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    codec::grant_status_from_row(grant_id, row.as_ref())
}
