//! Coalescing enqueue on SQLite (the counterpart of `postgres/enqueue.rs`): used by the store's
//! `enqueue`, by ingest (notifications and their jobs in one transaction) and by dead-letter
//! retries, so every job request follows the same rules.
//!
//! Invariants:
//! - One row per record key. [`enqueue_one`] is a single `INSERT … ON CONFLICT DO UPDATE`: it
//!   replaces the content, bumps `generation`, resets `attempts`/`last_error` and schedules the
//!   job by the [`QueuePolicy`] (coalescing; `burst_started_at`, cleared by a claim), leaving
//!   lease columns alone (an in-flight holder sees the generation change when it finishes). An upsert older than a pending upsert is dropped; an upsert over a delete, or
//!   over an upsert that already had to fetch, keeps `force_fetch`.
//! - A request for a deleted grant makes no job (see `grants`).

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::{begin_write, commit, db_error, grants};
use crate::ids::NotificationId;
use crate::store::codec::{self, millis};
use crate::store::{JobRequest, QueuePolicy, StoreError};

/// What an enqueue did to the jobs table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Enqueued {
    /// A job was created or its content replaced.
    Applied,
    /// A pending upsert is newer: the request was dropped.
    Stale,
    /// The grant is deleted: no job.
    GrantDeleted,
}

const UPSERT_JOB: &str = "\
INSERT INTO jobs (record_key, grant_id, calendar_id, action, payload, origin, version,
                  force_fetch, source, notification_id, generation, attempts,
                  enqueued_at, updated_at, next_attempt_at, burst_started_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 0, ?11, ?11, ?11 + MIN(?12, ?13), ?11)
ON CONFLICT (record_key) DO UPDATE SET
    grant_id = excluded.grant_id,
    calendar_id = COALESCE(excluded.calendar_id, jobs.calendar_id),
    action = excluded.action,
    payload = excluded.payload,
    origin = excluded.origin,
    version = excluded.version,
    force_fetch = CASE
        WHEN excluded.action = 'upsert' AND (jobs.action = 'delete' OR jobs.force_fetch = 1)
        THEN 1 ELSE excluded.force_fetch END,
    source = excluded.source,
    notification_id = excluded.notification_id,
    generation = jobs.generation + 1,
    attempts = 0,
    last_error = NULL,
    updated_at = excluded.updated_at,
    next_attempt_at = MIN(excluded.updated_at + ?12,
                          COALESCE(jobs.burst_started_at, excluded.updated_at) + ?13),
    burst_started_at = COALESCE(jobs.burst_started_at, excluded.updated_at)
WHERE NOT (excluded.action = 'upsert' AND jobs.action = 'upsert'
           AND excluded.version IS NOT NULL AND jobs.version IS NOT NULL
           AND excluded.version < jobs.version)";

/// Applies one job request with the coalescing rules (inside the caller's transaction).
pub(super) async fn enqueue_one(
    conn: &mut SqliteConnection,
    job: &JobRequest,
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<Enqueued, StoreError> {
    if grants::is_deleted(conn, &job.grant_id).await? {
        return Ok(Enqueued::GrantDeleted);
    }
    let result = sqlx::query(UPSERT_JOB)
        .bind(job.record_key.as_str())
        .bind(job.grant_id.as_str())
        .bind(&job.calendar_id)
        .bind(codec::action_text(job.action))
        .bind(codec::payload_text(job.payload.as_ref()))
        .bind(codec::origin_text(job.origin))
        .bind(job.version)
        .bind(job.force_fetch)
        .bind(codec::source_text(job.source))
        .bind(job.notification_id.as_ref().map(NotificationId::as_str))
        .bind(millis(now))
        .bind(policy.window_millis(job.source))
        .bind(policy.max_delay_millis())
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(if result.rows_affected() > 0 {
        Enqueued::Applied
    } else {
        Enqueued::Stale
    })
}

/// Enqueues requests in one transaction; true when any job was created or changed.
pub(super) async fn enqueue(
    write: &SqlitePool,
    jobs: &[JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(write).await?;
    let mut changed = false;
    for job in jobs {
        changed |= enqueue_one(&mut tx, job, now, policy).await? == Enqueued::Applied;
    }
    commit(tx).await?;
    Ok(changed)
}
