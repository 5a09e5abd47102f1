//! The notification log on SQLite, and ingest: storing a batch of notifications and applying what
//! they cause, in one durable transaction.
//!
//! Invariants: a notification id is stored once (`ON CONFLICT DO NOTHING`; a later copy, in the
//! same batch or another, is `Duplicate`), and only a newly stored notification applies its grant
//! change and then its job. The whole batch commits in one `BEGIN IMMEDIATE` transaction, so one
//! fsync covers it and a failure stores none of it.

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};

use super::enqueue::{self, Enqueued};
use super::{begin_write, commit, db_error, grants};
use crate::store::codec::{self, get, millis};
use crate::store::{
    IncomingNotification, IngestOutcome, NotificationFilter, QueuePolicy, StoreError,
    StoredNotification,
};

/// Stores a batch; returns one outcome per notification and whether any job became claimable.
pub(super) async fn ingest(
    write: &SqlitePool,
    batch: &[IncomingNotification],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<(Vec<IngestOutcome>, bool), StoreError> {
    if batch.is_empty() {
        return Ok((Vec::new(), false));
    }
    let mut tx = begin_write(write).await?;
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed = false;
    for notification in batch {
        if !insert(&mut tx, notification).await? {
            outcomes.push(IngestOutcome::Duplicate);
            continue;
        }
        if let (Some(change), Some(grant_id)) =
            (notification.grant_change, notification.grant_id.as_deref())
        {
            changed |= grants::apply_change(&mut tx, grant_id, change, now).await?;
        }
        if let Some(job) = &notification.job {
            changed |= enqueue::enqueue_one(&mut tx, job, now, policy).await? == Enqueued::Applied;
        }
        outcomes.push(IngestOutcome::Accepted);
    }
    commit(tx).await?;
    Ok((outcomes, changed))
}

/// Logs a notification; false when its id was already stored.
async fn insert(
    conn: &mut SqliteConnection,
    notification: &IncomingNotification,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "INSERT INTO notifications (id, trigger, grant_id, event_id, received_at, body)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&notification.id)
    .bind(&notification.trigger)
    .bind(&notification.grant_id)
    .bind(&notification.event_id)
    .bind(millis(notification.received_at))
    .bind(&notification.body)
    .execute(&mut *conn)
    .await
    .map_err(db_error)?;
    Ok(result.rows_affected() > 0)
}

/// Logged notifications with `since <= received_at < until` and the given event id, oldest first
/// (ties in arrival order).
pub(super) async fn list(
    read: &SqlitePool,
    filter: &NotificationFilter,
) -> Result<Vec<StoredNotification>, StoreError> {
    let rows = sqlx::query(
        "SELECT id, trigger, grant_id, event_id, received_at, body FROM notifications
         WHERE (?1 IS NULL OR received_at >= ?1)
           AND (?2 IS NULL OR received_at < ?2)
           AND (?3 IS NULL OR event_id = ?3)
         ORDER BY received_at, rowid",
    )
    .bind(filter.since.map(millis))
    .bind(filter.until.map(millis))
    .bind(&filter.event_id)
    .fetch_all(read)
    .await
    .map_err(db_error)?;
    rows.iter().map(notification_from_row).collect()
}

fn notification_from_row(row: &SqliteRow) -> Result<StoredNotification, StoreError> {
    Ok(StoredNotification {
        id: get(row, "id")?,
        trigger: get(row, "trigger")?,
        grant_id: get(row, "grant_id")?,
        event_id: get(row, "event_id")?,
        received_at: codec::timestamp(get(row, "received_at")?)?,
        body: get(row, "body")?,
    })
}

/// Deletes notifications received before `before`; returns how many.
pub(super) async fn prune(write: &SqlitePool, before: Timestamp) -> Result<u64, StoreError> {
    let result = sqlx::query("DELETE FROM notifications WHERE received_at < ?1")
        .bind(millis(before))
        .execute(write)
        .await
        .map_err(db_error)?;
    Ok(result.rows_affected())
}
