//! The notification log on SQLite, and ingest: storing a batch of notifications and applying what
//! they cause, in one durable transaction.
//!
//! Invariants: a notification id is stored once (`ON CONFLICT DO NOTHING`; a later copy, in the
//! same batch or another, is `Duplicate`), and only a newly stored notification applies its grant
//! change and then its job. The whole batch commits in one `BEGIN IMMEDIATE` transaction, so one
//! fsync covers it and a failure stores none of it.
//!
//! Cost: the batch's notifications are logged, and its jobs upserted, by a few multi-row
//! statements (`rows`), not one statement per notification: each statement is a round trip to
//! the connection's thread, and while they run the single writer holds every other batch back.
//! A batch holding a grant change applies changes and jobs one notification at a time instead,
//! so each job sees the grants as they were at its turn.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::sqlite::{SqliteConnection, SqlitePool, SqliteRow};

use super::enqueue::{self, Enqueued};
use super::rows::{self, Texts};
use super::{begin_write, commit, db_error, grants};
use crate::store::codec::{self, get, millis};
use crate::store::{
    IncomingNotification, IngestOutcome, JobRequest, NotificationFilter, QueuePolicy, StoreError,
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
    let firsts = first_copies(batch);
    let mut tx = begin_write(write).await?;
    let stored = insert(&mut tx, batch, &firsts).await?;
    let accepted: Vec<usize> = firsts
        .into_iter()
        .filter(|&index| stored.contains(batch[index].id.as_str()))
        .collect();
    let notifications: Vec<&IncomingNotification> =
        accepted.iter().map(|&index| &batch[index]).collect();
    let changed = if notifications.iter().any(|n| n.grant_change.is_some()) {
        apply_in_order(&mut tx, &notifications, now, policy).await?
    } else {
        let jobs: Vec<&JobRequest> = notifications
            .iter()
            .filter_map(|n| n.job.as_ref())
            .collect();
        enqueue::enqueue_all(&mut tx, &jobs, now, policy).await?
    };
    commit(tx).await?;
    let mut outcomes = vec![IngestOutcome::Duplicate; batch.len()];
    for index in accepted {
        outcomes[index] = IngestOutcome::Accepted;
    }
    Ok((outcomes, changed))
}

/// Applies each accepted notification's grant change and then its job, one notification after
/// another (a batch holding a grant change: its jobs must see the grants as they are at their
/// turn).
async fn apply_in_order(
    conn: &mut SqliteConnection,
    accepted: &[&IncomingNotification],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<bool, StoreError> {
    let mut changed = false;
    for notification in accepted {
        if let (Some(change), Some(grant_id)) =
            (notification.grant_change, notification.grant_id.as_deref())
        {
            changed |= grants::apply_change(conn, grant_id, change, now).await?;
        }
        if let Some(job) = &notification.job {
            changed |= enqueue::enqueue_one(conn, job, now, policy).await? == Enqueued::Applied;
        }
    }
    Ok(changed)
}

/// The index of the first copy of each id in the batch, in arrival order (later copies are
/// duplicates without reaching the database).
fn first_copies(batch: &[IncomingNotification]) -> Vec<usize> {
    let mut seen: HashSet<&str> = HashSet::with_capacity(batch.len());
    (0..batch.len())
        .filter(|&index| seen.insert(batch[index].id.as_str()))
        .collect()
}

/// The columns of a logged notification.
const NOTIFICATION_WIDTH: usize = 6;

/// Logs `rows` notifications, skipping ids already stored; returns the ids it stored.
fn insert_notifications(rows: usize) -> String {
    let values = rows::values(rows, 1, NOTIFICATION_WIDTH, |n| {
        let columns: Vec<String> = (n..n + NOTIFICATION_WIDTH)
            .map(|p| format!("?{p}"))
            .collect();
        format!("({})", columns.join(", "))
    });
    format!(
        "INSERT INTO notifications (id, trigger, grant_id, event_id, received_at, body)
         VALUES {values}
         ON CONFLICT (id) DO NOTHING
         RETURNING id"
    )
}

static INSERT_NOTIFICATIONS: Texts = Texts::new();

/// Logs the picked notifications (distinct ids, in order) in a few multi-row statements; returns
/// the ids that were not stored before.
async fn insert(
    conn: &mut SqliteConnection,
    batch: &[IncomingNotification],
    picked: &[usize],
) -> Result<HashSet<String>, StoreError> {
    let mut stored = HashSet::with_capacity(picked.len());
    for chunk in rows::chunks(picked.len()) {
        let mut query = sqlx::query_scalar::<_, String>(
            INSERT_NOTIFICATIONS.get(chunk.len(), insert_notifications),
        );
        for &index in &picked[chunk] {
            let notification = &batch[index];
            query = query
                .bind(&notification.id)
                .bind(&notification.trigger)
                .bind(&notification.grant_id)
                .bind(&notification.event_id)
                .bind(millis(notification.received_at))
                .bind(&notification.body);
        }
        stored.extend(query.fetch_all(&mut *conn).await.map_err(db_error)?);
    }
    Ok(stored)
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
