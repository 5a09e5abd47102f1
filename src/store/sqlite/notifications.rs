//! Ingest on SQLite, the engine hook of the notification log ([`crate::store::NotificationLog`],
//! implemented once in [`crate::store::notifications`], which lists by `rowid`): storing a batch of notifications and applying
//! what they cause, in one durable transaction.
//!
//! Invariants: a notification id is stored once (`ON CONFLICT DO NOTHING`; a later copy, in the
//! same batch or another, is `Duplicate`), and only a newly stored notification applies its grant
//! change and then its job. The whole batch commits in one `BEGIN IMMEDIATE` transaction, so one
//! fsync covers it and a failure stores none of it. Arrival order is the `rowid`.

use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::enqueue::{self, Enqueued};
use super::{SqliteStore, begin_write, commit, db_error, grants};
use crate::ids::{EventId, GrantId};
use crate::store::codec::millis;
use crate::store::notifications::{IngestEngine, exec};
use crate::store::{IncomingNotification, IngestOutcome, StoreError};

impl IngestEngine for SqliteStore {
    const BY_ARRIVAL: &'static str = exec::LIST_BY_ROWID;

    /// Stores a batch; returns one outcome per notification and whether any job became
    /// claimable.
    async fn ingest_batch(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<(Vec<IngestOutcome>, bool), StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut changed = false;
        for notification in batch {
            if !insert(&mut tx, notification).await? {
                outcomes.push(IngestOutcome::Duplicate);
                continue;
            }
            if let (Some(change), Some(grant_id)) =
                (notification.grant_change, notification.grant_id.as_ref())
            {
                changed |= grants::apply_change(&mut tx, grant_id, change, now).await?;
            }
            if let Some(job) = &notification.job {
                changed |= enqueue::enqueue_one(&mut tx, job, now, &self.policy).await?
                    == Enqueued::Applied;
            }
            outcomes.push(IngestOutcome::Accepted);
        }
        commit(tx).await?;
        Ok((outcomes, changed))
    }
}

/// Logs a notification; false when its id was already stored.
async fn insert(
    conn: &mut SqliteConnection,
    notification: &IncomingNotification,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO notifications (id, trigger, grant_id, event_id, received_at, body)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(notification.id.as_str())
    .bind(&notification.trigger)
    .bind(notification.grant_id.as_ref().map(GrantId::as_str))
    .bind(notification.event_id.as_ref().map(EventId::as_str))
    .bind(millis(notification.received_at))
    .bind(&notification.body)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}
