//! One record key's place in the queue ([`Store::queue_entry`](super::Store::queue_entry)): the
//! SQL, which both backends accept as written, and the decoding of its rows.
//!
//! Invariant: these are plain reads by primary key or indexed column; they take no lock and
//! change nothing, so an operator's command may run them beside busy workers.

use sqlx::{ColumnIndex, Decode, Row, Type};

use super::codec::{self, get, get_count, timestamp};
use super::{QueuedJob, StoreError};

/// The job of a record key (`$1`), with its schedule and lease.
pub(in crate::store) const JOB_OF_KEY: &str = "\
SELECT record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch, source,
       notification_id, attempts, last_error, enqueued_at, next_attempt_at, leased_until
FROM jobs WHERE record_key = $1";

/// The newest dead letter of a record key (`$1`).
pub(in crate::store) const DEAD_LETTER_OF_KEY: &str = "\
SELECT id, record_key, grant_id, calendar_id, action, payload, origin, version, force_fetch,
       source, notification_id, attempts, last_error, enqueued_at, dead_at
FROM dead_letters WHERE record_key = $1 ORDER BY id DESC LIMIT 1";

/// A [`JOB_OF_KEY`] row, decoded.
pub(in crate::store) fn queued_job_from_row<R>(row: &R) -> Result<QueuedJob, StoreError>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(QueuedJob {
        request: codec::request_from_row(row)?,
        attempts: get_count(row, "attempts")?,
        last_error: get(row, "last_error")?,
        enqueued_at: timestamp(get(row, "enqueued_at")?)?,
        next_attempt_at: timestamp(get(row, "next_attempt_at")?)?,
        leased_until: codec::opt_timestamp(get(row, "leased_until")?)?,
    })
}
