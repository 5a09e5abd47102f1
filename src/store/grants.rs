//! Grant status ([`Grants`]): which grants' jobs may run.
//!
//! Invariants every backend keeps (the conformance suite checks each):
//! - A grant without a row is active.
//! - A deleted grant has no jobs: deleting it drops them in the same transaction (on PostgreSQL
//!   under the grant-deletion fence, so no replica's concurrent enqueue leaves one behind), and
//!   enqueueing for it is refused.
//! - Notifications never revive a deleted grant, and a repeated `grant.expired` keeps the time
//!   the pause began; [`Grants::set_grant_status`] (an explicit decision) sets whatever it is
//!   given. Each change is one conditional upsert, so concurrent changes serialize on the row.
//!
//! Implemented once for both backends over `portable::Engine` (SQL in `exec`); the engine chooses
//! the transaction (SQLite's `BEGIN IMMEDIATE`), takes the deletion fence (PostgreSQL) and
//! announces a resumed grant's work (`NOTIFY`).

use async_trait::async_trait;
use jiff::Timestamp;

use super::portable::{Engine, commit_announced};
use super::{GrantStatus, StoreError};
use crate::ids::GrantId;

/// Grant status: paused and deleted grants' jobs do not run.
#[async_trait]
pub trait Grants: Send + Sync {
    /// Sets a grant's status; `Deleted` also drops its jobs.
    async fn set_grant_status(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A grant's status (`Active` when never recorded).
    async fn grant_status(&self, grant_id: &GrantId) -> Result<GrantStatus, StoreError>;

    /// How many grants are paused (for `calsync_grants_paused`).
    async fn paused_grants(&self) -> Result<u64, StoreError>;
}

#[async_trait]
impl<E: Engine> Grants for E {
    async fn set_grant_status(
        &self,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let write = async {
            let mut tx = self.begin_write().await?;
            if matches!(status, GrantStatus::Deleted { .. }) {
                E::fence_deletion(&mut tx).await?;
            }
            let resumed =
                exec::set_status::<E::Db>(&mut tx, grant_id, status, now, E::classify).await?;
            commit_announced::<E>(tx, resumed).await?;
            Ok(resumed)
        };
        let resumed = self.guarded(write).await?;
        self.wake(resumed);
        Ok(())
    }

    async fn grant_status(&self, grant_id: &GrantId) -> Result<GrantStatus, StoreError> {
        exec::status(self.reads(), grant_id, E::classify).await
    }

    async fn paused_grants(&self) -> Result<u64, StoreError> {
        exec::count_paused(self.reads(), E::classify).await
    }
}

/// The statements and their generic execution over either backend.
pub(in crate::store) mod exec {
    use crate::ids::GrantId;
    use crate::store::codec::{self, get, millis};
    use crate::store::portable::{Classify, Param, Portable};
    use crate::store::{GrantChange, GrantStatus, StoreError};
    use jiff::Timestamp;

    /// `grant.expired`: pause active grant `$1` at `$2` (a paused one keeps its `since`).
    const PAUSE: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES ($1, 'paused', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status = 'active'";

    /// `grant.updated`: resume paused grant `$1` at `$2`.
    const RESUME: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES ($1, 'active', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status = 'paused'";

    /// `grant.deleted`: delete grant `$1` at `$2` unless deleted already.
    const DELETE: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES ($1, 'deleted', $2)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since
WHERE grants.status <> 'deleted'";

    /// An explicit status change: grant `$1` to `$2` since `$3`.
    const SET: &str = "\
INSERT INTO grants (grant_id, status, since) VALUES ($1, $2, $3)
ON CONFLICT (grant_id) DO UPDATE SET status = excluded.status, since = excluded.since";

    /// Drops the jobs of grant `$1`.
    const DROP_JOBS: &str = "DELETE FROM jobs WHERE grant_id = $1";

    /// The status row of grant `$1`.
    const STATUS: &str = "SELECT status, since FROM grants WHERE grant_id = $1";

    /// How many grants are paused.
    const COUNT_PAUSED: &str = "SELECT COUNT(*) AS paused FROM grants WHERE status = 'paused'";

    /// Applies a grant change from a notification inside the caller's transaction (which holds
    /// the PostgreSQL fence exclusively when the change is a deletion); true when the grant was
    /// resumed, so its jobs became claimable.
    pub async fn apply_change<DB: Portable>(
        conn: &mut DB::Connection,
        grant_id: &GrantId,
        change: GrantChange,
        now: Timestamp,
        classify: Classify,
    ) -> Result<bool, StoreError> {
        let statement = match change {
            GrantChange::Expired => PAUSE,
            GrantChange::Updated => RESUME,
            GrantChange::Deleted => DELETE,
        };
        let changed = DB::execute(conn, statement, &[grant_id.into(), millis(now).into()])
            .await
            .map_err(classify)?;
        if change == GrantChange::Deleted {
            DB::execute(conn, DROP_JOBS, &[grant_id.into()])
                .await
                .map_err(classify)?;
        }
        Ok(change == GrantChange::Updated && changed > 0)
    }

    /// Sets a grant's status inside the caller's transaction (holding the PostgreSQL fence
    /// exclusively for a deletion); `Deleted` also drops its jobs. True when the grant is now
    /// active (its jobs may have become claimable).
    pub async fn set_status<DB: Portable>(
        conn: &mut DB::Connection,
        grant_id: &GrantId,
        status: &GrantStatus,
        now: Timestamp,
        classify: Classify,
    ) -> Result<bool, StoreError> {
        let (text, since) = match status {
            GrantStatus::Active => ("active", now),
            GrantStatus::Paused { since } => ("paused", *since),
            GrantStatus::Deleted { at } => ("deleted", *at),
        };
        let values = [Param::from(grant_id), text.into(), millis(since).into()];
        DB::execute(conn, SET, &values).await.map_err(classify)?;
        if matches!(status, GrantStatus::Deleted { .. }) {
            DB::execute(conn, DROP_JOBS, &[grant_id.into()])
                .await
                .map_err(classify)?;
        }
        Ok(matches!(status, GrantStatus::Active))
    }

    /// [`super::Grants::grant_status`].
    pub async fn status<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        grant_id: &GrantId,
        classify: Classify,
    ) -> Result<GrantStatus, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let row = DB::fetch_optional(&mut conn, STATUS, &[grant_id.into()])
            .await
            .map_err(classify)?;
        codec::grant_status_from_row(grant_id, row.as_ref())
    }

    /// [`super::Grants::paused_grants`].
    pub async fn count_paused<DB: Portable>(
        pool: &sqlx::Pool<DB>,
        classify: Classify,
    ) -> Result<u64, StoreError> {
        let mut conn = pool.acquire().await.map_err(classify)?;
        let row = DB::fetch_optional(&mut conn, COUNT_PAUSED, &[])
            .await
            .and_then(|row| row.ok_or(sqlx::Error::RowNotFound))
            .map_err(classify)?;
        let count: i64 = get(&row, "paused")?;
        u64::try_from(count).map_err(|_| {
            StoreError::Corrupt(format!("the paused grant count is negative: {count}"))
        })
    }
}
