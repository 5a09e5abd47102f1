//! Coalescing enqueue on SQLite (the counterpart of `postgres/enqueue.rs`): used by the store's
//! `enqueue`, by ingest (notifications and their jobs in one transaction) and by dead-letter
//! retries, so every job request follows the same rules.
//!
//! Invariants:
//! - One row per record key. A request is an `INSERT … ON CONFLICT DO UPDATE` (several requests
//!   with distinct keys share one multi-row statement, [`enqueue_all`]; a key's requests apply
//!   in order): it
//!   replaces the content, bumps `generation`, resets `attempts`/`last_error` and schedules the
//!   job by the [`QueuePolicy`] (coalescing; `burst_started_at`, cleared by a claim), leaving
//!   lease columns alone (an in-flight holder sees the generation change when it finishes). An upsert older than a pending upsert is dropped; an upsert over a delete, or
//!   over an upsert that already had to fetch, keeps `force_fetch`.
//! - A request for a deleted grant makes no job (see `grants`).

use std::collections::HashMap;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool};

use super::rows::{self, Texts};
use super::{begin_write, commit, db_error, grants};
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

/// The columns each request fills (`?1` is the enqueue's time, `?2` the window, `?3` the maximum
/// delay; a row's parameters follow).
const ROW_WIDTH: usize = 10;

/// The upsert of `rows` requests, all with the same window (see [`rows`]).
fn upsert_jobs(rows: usize) -> String {
    let values = rows::values(rows, 4, ROW_WIDTH, |n| {
        let columns: Vec<String> = (n..n + ROW_WIDTH).map(|p| format!("?{p}")).collect();
        format!(
            "({}, 0, 0, ?1, ?1, ?1 + MIN(?2, ?3), ?1)",
            columns.join(", ")
        )
    });
    format!(
        "\
INSERT INTO jobs (record_key, grant_id, calendar_id, action, payload, origin, version,
                  force_fetch, source, notification_id, generation, attempts,
                  enqueued_at, updated_at, next_attempt_at, burst_started_at)
VALUES {values}
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
    next_attempt_at = MIN(excluded.updated_at + ?2,
                          COALESCE(jobs.burst_started_at, excluded.updated_at) + ?3),
    burst_started_at = COALESCE(jobs.burst_started_at, excluded.updated_at)
WHERE NOT (excluded.action = 'upsert' AND jobs.action = 'upsert'
           AND excluded.version IS NOT NULL AND jobs.version IS NOT NULL
           AND excluded.version < jobs.version)"
    )
}

static UPSERT_JOBS: Texts = Texts::new();

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
    Ok(if upsert(conn, &[job], now, policy).await? > 0 {
        Enqueued::Applied
    } else {
        Enqueued::Stale
    })
}

/// Applies job requests in order with the coalescing rules (inside the caller's transaction),
/// in a few multi-row statements; true when any job was created or changed. Requests for
/// deleted grants make no job, as in [`enqueue_one`].
pub(super) async fn enqueue_all(
    conn: &mut SqliteConnection,
    jobs: &[&JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    let deleted = grants::deleted_among(conn, jobs.iter().map(|job| job.grant_id.as_str())).await?;
    let live: Vec<&JobRequest> = jobs
        .iter()
        .copied()
        .filter(|job| !deleted.contains(job.grant_id.as_str()))
        .collect();
    let mut applied = 0;
    for round in rounds(&live, policy) {
        applied += upsert(conn, &round, now, policy).await?;
    }
    Ok(applied > 0)
}

/// Splits requests into rounds that one statement can apply: within a round each record key
/// appears once (a key's later request goes to a later round, so its requests apply in order)
/// and all requests share a window (the statement binds it once).
fn rounds<'a>(jobs: &[&'a JobRequest], policy: &QueuePolicy) -> Vec<Vec<&'a JobRequest>> {
    let mut seen: HashMap<&str, usize> = HashMap::with_capacity(jobs.len());
    let mut rounds: Vec<(usize, i64, Vec<&JobRequest>)> = Vec::new();
    for &job in jobs {
        let occurrence = seen.entry(job.record_key.as_str()).or_insert(0);
        let window = policy.window_millis(job.source);
        match rounds
            .iter_mut()
            .find(|(round, round_window, _)| *round == *occurrence && *round_window == window)
        {
            Some((_, _, members)) => members.push(job),
            None => rounds.push((*occurrence, window, vec![job])),
        }
        *occurrence += 1;
    }
    rounds.sort_by_key(|(occurrence, _, _)| *occurrence);
    rounds.into_iter().map(|(_, _, members)| members).collect()
}

/// Upserts requests with distinct record keys and one window; returns how many rows were
/// created or replaced (stale requests change nothing).
async fn upsert(
    conn: &mut SqliteConnection,
    jobs: &[&JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<u64, StoreError> {
    let Some(first) = jobs.first() else {
        return Ok(0);
    };
    let window = policy.window_millis(first.source);
    let mut applied = 0;
    for chunk in rows::chunks(jobs.len()) {
        let mut query = sqlx::query(UPSERT_JOBS.get(chunk.len(), upsert_jobs))
            .bind(millis(now))
            .bind(window)
            .bind(policy.max_delay_millis());
        for job in &jobs[chunk] {
            query = query
                .bind(&job.record_key)
                .bind(&job.grant_id)
                .bind(&job.calendar_id)
                .bind(codec::action_text(job.action))
                .bind(codec::payload_text(job.payload.as_ref()))
                .bind(codec::origin_text(job.origin))
                .bind(job.version)
                .bind(job.force_fetch)
                .bind(codec::source_text(job.source))
                .bind(&job.notification_id);
        }
        applied += query
            .execute(&mut *conn)
            .await
            .map_err(db_error)?
            .rows_affected();
    }
    Ok(applied)
}

/// Enqueues requests in one transaction; true when any job was created or changed.
pub(super) async fn enqueue(
    write: &SqlitePool,
    jobs: &[JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    if jobs.is_empty() {
        return Ok(false);
    }
    let mut tx = begin_write(write).await?;
    let mut changed = false;
    for job in jobs {
        changed |= enqueue_one(&mut tx, job, now, policy).await? == Enqueued::Applied;
    }
    commit(tx).await?;
    Ok(changed)
}
