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
//! The SQL is written once ([`exec`]); the backends choose the transaction (SQLite's
//! `BEGIN IMMEDIATE`, PostgreSQL's fence and `NOTIFY`) and classify errors.

use async_trait::async_trait;
use jiff::Timestamp;

use super::{GrantStatus, StoreError};

/// Grant status: paused and deleted grants' jobs do not run.
#[async_trait]
pub trait Grants: Send + Sync {
    /// Sets a grant's status; `Deleted` also drops its jobs.
    async fn set_grant_status(
        &self,
        grant_id: &str,
        status: &GrantStatus,
        now: Timestamp,
    ) -> Result<(), StoreError>;

    /// A grant's status (`Active` when never recorded).
    async fn grant_status(&self, grant_id: &str) -> Result<GrantStatus, StoreError>;

    /// How many grants are paused (for `calsync_grants_paused`).
    async fn paused_grants(&self) -> Result<u64, StoreError>;
}

/// The statements and their generic execution over either backend.
pub(in crate::store) mod exec {
    use jiff::Timestamp;
    use sqlx::{ColumnIndex, Decode, Encode, Type};

    use crate::store::codec::{self, millis};
    use crate::store::portable::{Classify, RowsAffected};
    use crate::store::{GrantChange, GrantStatus, StoreError};

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
    const COUNT_PAUSED: &str = "SELECT COUNT(*) FROM grants WHERE status = 'paused'";

    /// Applies a grant change from a notification inside the caller's transaction (which holds
    /// the PostgreSQL fence exclusively when the change is a deletion); true when the grant was
    /// resumed, so its jobs became claimable.
    pub async fn apply_change<DB>(
        conn: &mut DB::Connection,
        grant_id: &str,
        change: GrantChange,
        now: Timestamp,
        classify: Classify,
    ) -> Result<bool, StoreError>
    where
        DB: sqlx::Database,
        DB::QueryResult: RowsAffected,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
    {
        let statement = match change {
            GrantChange::Expired => PAUSE,
            GrantChange::Updated => RESUME,
            GrantChange::Deleted => DELETE,
        };
        let result = sqlx::query::<DB>(statement)
            .bind(grant_id)
            .bind(millis(now))
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        if change == GrantChange::Deleted {
            drop_jobs::<DB>(conn, grant_id, classify).await?;
        }
        Ok(change == GrantChange::Updated && result.rows_affected() > 0)
    }

    /// Sets a grant's status inside the caller's transaction (holding the PostgreSQL fence
    /// exclusively for a deletion); `Deleted` also drops its jobs. True when the grant is now
    /// active (its jobs may have become claimable).
    pub async fn set_status<DB>(
        conn: &mut DB::Connection,
        grant_id: &str,
        status: &GrantStatus,
        now: Timestamp,
        classify: Classify,
    ) -> Result<bool, StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'q> i64: Encode<'q, DB> + Type<DB>,
    {
        let (text, since) = match status {
            GrantStatus::Active => ("active", now),
            GrantStatus::Paused { since } => ("paused", *since),
            GrantStatus::Deleted { at } => ("deleted", *at),
        };
        sqlx::query::<DB>(SET)
            .bind(grant_id)
            .bind(text)
            .bind(millis(since))
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        if matches!(status, GrantStatus::Deleted { .. }) {
            drop_jobs::<DB>(conn, grant_id, classify).await?;
        }
        Ok(matches!(status, GrantStatus::Active))
    }

    async fn drop_jobs<DB>(
        conn: &mut DB::Connection,
        grant_id: &str,
        classify: Classify,
    ) -> Result<(), StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    {
        sqlx::query::<DB>(DROP_JOBS)
            .bind(grant_id)
            .execute(&mut *conn)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// [`super::Grants::grant_status`].
    pub async fn status<DB>(
        pool: &sqlx::Pool<DB>,
        grant_id: &str,
        classify: Classify,
    ) -> Result<GrantStatus, StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        for<'q> &'q str: Encode<'q, DB> + Type<DB>,
        for<'c> &'c str: ColumnIndex<DB::Row>,
        for<'r> String: Decode<'r, DB> + Type<DB>,
        for<'r> i64: Decode<'r, DB> + Type<DB>,
    {
        let row = sqlx::query::<DB>(STATUS)
            .bind(grant_id)
            .fetch_optional(pool)
            .await
            .map_err(classify)?;
        codec::grant_status_from_row(grant_id, row.as_ref())
    }

    /// [`super::Grants::paused_grants`].
    pub async fn count_paused<DB>(
        pool: &sqlx::Pool<DB>,
        classify: Classify,
    ) -> Result<u64, StoreError>
    where
        DB: sqlx::Database,
        for<'c> &'c mut DB::Connection: sqlx::Executor<'c, Database = DB>,
        DB::Arguments: sqlx::IntoArguments<DB>,
        (i64,): for<'r> sqlx::FromRow<'r, DB::Row>,
    {
        let count: i64 = sqlx::query_scalar::<DB, i64>(COUNT_PAUSED)
            .fetch_one(pool)
            .await
            .map_err(classify)?;
        u64::try_from(count).map_err(|_| {
            StoreError::Corrupt(format!("the paused grant count is negative: {count}"))
        })
    }
}
