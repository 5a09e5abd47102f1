//! Coalescing enqueue on PostgreSQL: many job requests per statement, with exactly the rules of
//! the SQLite backend applied as if the requests arrived one by one.
//!
//! Invariants:
//! - One row per record key. The upsert replaces the content, bumps `generation`, resets
//!   `attempts`/`last_error` and schedules the job by the [`QueuePolicy`] (coalescing;
//!   `burst_started_at`, cleared by a claim), leaving lease columns alone (an in-flight
//!   holder sees the generation change when it finishes). An upsert older than a pending upsert
//!   is dropped; an upsert over a delete, or over an upsert that already had to fetch, keeps
//!   `force_fetch`. A request for a deleted grant makes no job.
//! - Requests apply in arrival order. One `INSERT … ON CONFLICT DO UPDATE` may touch a row only
//!   once, so the requests are split into rounds: round *n* holds the *n*-th request of each key,
//!   one statement per round. A batch without repeated keys is one statement.
//! - Rows are written in key order, so concurrent batches (other replicas) lock shared keys in
//!   the same order and cannot deadlock each other. Concurrent upserts of one key serialize on
//!   its row: the later one sees the committed row and coalesces with it.
//! - Grant deletion is fenced: every transaction that enqueues first takes [`fence`] shared, and
//!   a transaction that deletes a grant takes it exclusively before marking the grant and
//!   dropping its jobs. So an enqueue either runs entirely before a deletion (whose `DELETE`
//!   then sees its job) or entirely after (and sees the grant deleted); no replica can leave a
//!   job behind for a deleted grant.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use sqlx::postgres::PgConnection;

use super::db_error;
use super::listener::CHANNEL;
use crate::ids::NotificationId;
use crate::store::StoreError;
use crate::store::codec::{self, millis};
use crate::store::{JobRequest, QueuePolicy};

/// The advisory lock key of the grant-deletion fence ("calsync" in ASCII); distinct from the
/// key sqlx's migrator derives from the database name.
const GRANT_FENCE_KEY: i64 = 0x0063_616c_7379_6e63;

const UPSERT_JOBS: &str = "\
INSERT INTO jobs AS j (record_key, grant_id, calendar_id, action, payload, origin, version,
                       force_fetch, source, notification_id, generation, attempts,
                       enqueued_at, updated_at, next_attempt_at, burst_started_at)
SELECT i.record_key, i.grant_id, i.calendar_id, i.action, i.payload, i.origin, i.version,
       i.force_fetch, i.source, i.notification_id, 0, 0, $11, $11,
       $11 + LEAST(i.coalesce_window, $13), $11
FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[],
            $8::bool[], $9::text[], $10::text[], $12::int8[])
     AS i(record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
          source, notification_id, coalesce_window)
WHERE NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = i.grant_id AND g.status = 'deleted')
ORDER BY i.record_key
ON CONFLICT (record_key) DO UPDATE SET
    grant_id = excluded.grant_id,
    calendar_id = COALESCE(excluded.calendar_id, j.calendar_id),
    action = excluded.action,
    payload = excluded.payload,
    origin = excluded.origin,
    version = excluded.version,
    force_fetch = CASE
        WHEN excluded.action = 'upsert' AND (j.action = 'delete' OR j.force_fetch)
        THEN TRUE ELSE excluded.force_fetch END,
    source = excluded.source,
    notification_id = excluded.notification_id,
    generation = j.generation + 1,
    attempts = 0,
    last_error = NULL,
    updated_at = excluded.updated_at,
    next_attempt_at = LEAST(excluded.next_attempt_at,
                            COALESCE(j.burst_started_at, excluded.updated_at) + $13),
    burst_started_at = COALESCE(j.burst_started_at, excluded.updated_at)
WHERE NOT (excluded.action = 'upsert' AND j.action = 'upsert'
           AND excluded.version IS NOT NULL AND j.version IS NOT NULL
           AND excluded.version < j.version)
RETURNING j.record_key";

/// How a transaction holds the grant-deletion fence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fence {
    /// It enqueues jobs.
    Enqueue,
    /// It deletes a grant (and may enqueue too).
    DeleteGrant,
}

/// Takes the grant-deletion fence for the rest of the transaction (see the module docs).
pub(super) async fn fence(conn: &mut PgConnection, mode: Fence) -> Result<(), StoreError> {
    let sql = match mode {
        Fence::Enqueue => "SELECT pg_advisory_xact_lock_shared($1)",
        Fence::DeleteGrant => "SELECT pg_advisory_xact_lock($1)",
    };
    sqlx::query(sql)
        .bind(GRANT_FENCE_KEY)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Wakes every replica's workers when the transaction commits.
pub(super) async fn notify(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(CHANNEL)
        .execute(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Applies requests in order with the coalescing rules, inside the caller's transaction (which
/// holds the fence). Returns, per request, whether it created or replaced a job.
pub(super) async fn enqueue_all(
    conn: &mut PgConnection,
    jobs: &[&JobRequest],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<Vec<bool>, StoreError> {
    let mut applied = vec![false; jobs.len()];
    for round in rounds(jobs) {
        let written = upsert_round(conn, jobs, &round, now, policy).await?;
        for index in round {
            applied[index] = written.contains(jobs[index].record_key.as_str());
        }
    }
    Ok(applied)
}

/// Splits requests (by index) into rounds in which each key appears once, preserving order.
fn rounds(jobs: &[&JobRequest]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (index, job) in jobs.iter().enumerate() {
        let count = seen.entry(job.record_key.as_str()).or_insert(0);
        if rounds.len() <= *count {
            rounds.push(Vec::new());
        }
        rounds[*count].push(index);
        *count += 1;
    }
    rounds
}

/// One multi-row upsert; returns the keys it created or replaced.
async fn upsert_round(
    conn: &mut PgConnection,
    jobs: &[&JobRequest],
    round: &[usize],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<HashSet<String>, StoreError> {
    let picked = || round.iter().map(|&index| jobs[index]);
    let keys: Vec<&str> = picked().map(|j| j.record_key.as_str()).collect();
    let grants: Vec<&str> = picked().map(|j| j.grant_id.as_str()).collect();
    let calendars: Vec<Option<&str>> = picked().map(|j| j.calendar_id.as_deref()).collect();
    let actions: Vec<&str> = picked().map(|j| codec::action_text(j.action)).collect();
    let payloads: Vec<Option<&str>> = picked()
        .map(|j| codec::payload_text(j.payload.as_ref()))
        .collect();
    let origins: Vec<&str> = picked().map(|j| codec::origin_text(j.origin)).collect();
    let versions: Vec<Option<i64>> = picked().map(|j| j.version).collect();
    let force: Vec<bool> = picked().map(|j| j.force_fetch).collect();
    let sources: Vec<&str> = picked().map(|j| codec::source_text(j.source)).collect();
    let notifications: Vec<Option<&str>> = picked()
        .map(|j| j.notification_id.as_ref().map(NotificationId::as_str))
        .collect();
    let windows: Vec<i64> = picked().map(|j| policy.window_millis(j.source)).collect();
    let written: Vec<String> = sqlx::query_scalar(UPSERT_JOBS)
        .bind(keys)
        .bind(grants)
        .bind(calendars)
        .bind(actions)
        .bind(payloads)
        .bind(origins)
        .bind(versions)
        .bind(force)
        .bind(sources)
        .bind(notifications)
        .bind(millis(now))
        .bind(windows)
        .bind(policy.max_delay_millis())
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(written.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{JobAction, JobSource, PayloadOrigin};

    fn request(key: &str) -> JobRequest {
        JobRequest {
            record_key: key.into(),
            grant_id: "g".into(),
            calendar_id: None,
            action: JobAction::Upsert,
            payload: None,
            origin: PayloadOrigin::None,
            version: None,
            force_fetch: false,
            source: JobSource::Webhook,
            notification_id: None,
        }
    }

    #[test]
    fn rounds_hold_each_key_once_in_arrival_order() {
        let requests: Vec<JobRequest> = ["a", "b", "a", "c", "a", "b"]
            .into_iter()
            .map(request)
            .collect();
        let refs: Vec<&JobRequest> = requests.iter().collect();
        assert_eq!(rounds(&refs), [vec![0, 1, 3], vec![2, 5], vec![4]]);
        assert!(rounds(&[]).is_empty());
    }
}
