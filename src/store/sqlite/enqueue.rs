//! Coalescing enqueue on SQLite (the counterpart of `postgres/enqueue.rs`): used by the store's
//! `enqueue`, by ingest (notifications and their jobs in one transaction) and by dead-letter
//! retries, so every job request follows the same rules.
//!
//! Invariants:
//! - One row per record key. [`upsert_jobs`] applies requests with multi-row
//!   `INSERT … ON CONFLICT DO UPDATE` statements ([`super::rows`]), row after row in order, so a
//!   batch behaves exactly as the same requests enqueued one by one ([`enqueue_one`]): each
//!   replaces the content, bumps `generation`, resets `attempts`/`last_error` and schedules the
//!   job by the [`QueuePolicy`] (coalescing; `burst_started_at`, cleared by a claim), leaving
//!   lease columns alone (an in-flight holder sees the generation change when it finishes). An upsert older than a pending upsert is dropped; an upsert over a delete, or
//!   over an upsert that already had to fetch, keeps `force_fetch`.
//! - A request for a deleted grant makes no job (see `grants`; the multi-row upsert checks the
//!   grant in the same statement).

use std::sync::LazyLock;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::{begin_write, commit, db_error, grants, rows};
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

/// The coalescing upsert of many requests: rows are applied one after another in their order
/// (SQLite runs the conflict check and update per row, so a key repeated in one statement
/// coalesces exactly as it would over separate statements); rows for a deleted grant are skipped.
/// `?1` is now, `?2` the maximum delay; each row carries its own coalescing window. `RETURNING`
/// names the rows created or replaced (not those whose update the `WHERE` refused).
const UPSERT_JOBS: rows::Shape = rows::Shape {
    template: "\
WITH input(position, record_key, grant_id, calendar_id, action, payload, origin, version,
           force_fetch, source, notification_id, coalesce_window) AS (
VALUES {rows})
INSERT INTO jobs (record_key, grant_id, calendar_id, action, payload, origin, version,
                  force_fetch, source, notification_id, generation, attempts,
                  enqueued_at, updated_at, next_attempt_at, burst_started_at)
SELECT i.record_key, i.grant_id, i.calendar_id, i.action, i.payload, i.origin, i.version,
       i.force_fetch, i.source, i.notification_id, 0, 0, ?1, ?1, ?1 + MIN(i.coalesce_window, ?2),
       ?1
FROM input AS i
WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = i.grant_id AND g.status = 'deleted')
ORDER BY i.position
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
    next_attempt_at = MIN(excluded.next_attempt_at,
                          COALESCE(jobs.burst_started_at, excluded.updated_at) + ?2),
    burst_started_at = COALESCE(jobs.burst_started_at, excluded.updated_at)
WHERE NOT (excluded.action = 'upsert' AND jobs.action = 'upsert'
           AND excluded.version IS NOT NULL AND jobs.version IS NOT NULL
           AND excluded.version < jobs.version)
RETURNING record_key",
    shared: 2,
    columns: 11,
    positioned: true,
};

static UPSERT_JOBS_TEXTS: LazyLock<rows::Statements> =
    LazyLock::new(|| rows::Statements::build(&UPSERT_JOBS));

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
    Ok(if upsert_jobs(conn, &[job], now, policy).await? {
        Enqueued::Applied
    } else {
        Enqueued::Stale
    })
}

/// Applies job requests in order with the coalescing rules, many per statement, inside the
/// caller's transaction; requests for a deleted grant make no job. True when any job was created
/// or replaced.
pub(super) async fn upsert_jobs(
    conn: &mut SqliteConnection,
    jobs: &[&JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for chunk in rows::chunks(jobs) {
        let mut query = sqlx::query_scalar::<_, String>(UPSERT_JOBS_TEXTS.for_rows(chunk.len()))
            .bind(millis(now))
            .bind(policy.max_delay_millis());
        for job in chunk {
            query = query
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
                .bind(policy.window_millis(job.source));
        }
        let written = query.fetch_all(&mut *conn).await.map_err(db_error)?;
        changed |= !written.is_empty();
    }
    Ok(changed)
}

/// Enqueues requests in one transaction; true when any job was created or changed.
pub(super) async fn enqueue(
    write: &SqlitePool,
    jobs: &[JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    let mut tx = begin_write(write).await?;
    let requests: Vec<&JobRequest> = jobs.iter().collect();
    let changed = upsert_jobs(&mut tx, &requests, now, policy).await?;
    commit(tx).await?;
    Ok(changed)
}
