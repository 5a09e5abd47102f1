//! One record key's place in the queue ([`JobQueue::queue_entry`](super::JobQueue::queue_entry)),
//! written once for both backends: the SQL (which both accept as written), its execution and
//! the decoding of its rows.
//!
//! Invariant: these are plain reads by primary key or indexed column; they take no lock and
//! change nothing, so an operator's command may run them beside busy workers.

use super::codec::{self, get, get_count, timestamp};
use super::portable::{Cells, Classify, Param, Portable};
use super::{QueueEntry, QueuedJob, StoreError};
use crate::ids::EventId;

/// The job of a record key (`$1`), with its schedule and lease.
const JOB_OF_KEY: &str = "\
SELECT record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch, source,
       notification_id, attempts, last_error, enqueued_at, next_attempt_at, leased_until
FROM jobs WHERE record_key = $1";

/// The newest dead letter of a record key (`$1`).
const DEAD_LETTER_OF_KEY: &str = "\
SELECT id, record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
       source, notification_id, attempts, last_error, enqueued_at, dead_at
FROM dead_letters WHERE record_key = $1 ORDER BY id DESC LIMIT 1";

/// A [`JOB_OF_KEY`] row, decoded.
fn queued_job_from_row(row: &impl Cells) -> Result<QueuedJob, StoreError> {
    Ok(QueuedJob {
        request: codec::request_from_row(row)?,
        attempts: get_count(row, "attempts")?,
        last_error: get(row, "last_error")?,
        enqueued_at: timestamp(get(row, "enqueued_at")?)?,
        next_attempt_at: timestamp(get(row, "next_attempt_at")?)?,
        leased_until: codec::opt_timestamp(get(row, "leased_until")?)?,
    })
}

/// The job and newest dead letter of `record_key`, read through `pool` of either backend;
/// `classify` maps the backend's errors.
pub(in crate::store) async fn queue_entry<DB: Portable>(
    pool: &sqlx::Pool<DB>,
    record_key: &EventId,
    classify: Classify,
) -> Result<QueueEntry, StoreError> {
    let mut conn = pool.acquire().await.map_err(classify)?;
    let key = [Param::from(record_key)];
    let job = DB::fetch_optional(&mut conn, JOB_OF_KEY, &key)
        .await
        .map_err(classify)?;
    let dead_letter = DB::fetch_optional(&mut conn, DEAD_LETTER_OF_KEY, &key)
        .await
        .map_err(classify)?;
    Ok(QueueEntry {
        job: job.as_ref().map(queued_job_from_row).transpose()?,
        dead_letter: dead_letter
            .as_ref()
            .map(codec::dead_letter_from_row)
            .transpose()?,
    })
}
