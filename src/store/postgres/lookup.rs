//! One record key's place in the queue on PostgreSQL: the shared reads of [`crate::store::lookup`]
//! on the pool.

use sqlx::postgres::PgPool;

use super::db_error;
use crate::store::codec;
use crate::store::lookup::{DEAD_LETTER_OF_KEY, JOB_OF_KEY, queued_job_from_row};
use crate::store::{QueueEntry, StoreError};

/// The job and newest dead letter of `record_key`.
pub(super) async fn queue_entry(pool: &PgPool, record_key: &str) -> Result<QueueEntry, StoreError> {
    let job = sqlx::query(JOB_OF_KEY)
        .bind(record_key)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    let dead_letter = sqlx::query(DEAD_LETTER_OF_KEY)
        .bind(record_key)
        .fetch_optional(pool)
        .await
        .map_err(db_error)?;
    Ok(QueueEntry {
        job: job.as_ref().map(queued_job_from_row).transpose()?,
        dead_letter: dead_letter
            .as_ref()
            .map(codec::dead_letter_from_row)
            .transpose()?,
    })
}
