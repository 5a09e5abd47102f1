//! Ingest on SQLite, the engine hook of the notification log ([`crate::store::NotificationLog`],
//! implemented once in [`crate::store::notifications`], which lists by `rowid`): storing a batch of notifications and applying
//! what they cause, in one durable transaction.
//!
//! Invariants: a notification id is stored once (`ON CONFLICT DO NOTHING`; a later copy, in the
//! same batch or another, is `Duplicate`), and only a newly stored notification applies its grant
//! change and then its job. The whole batch commits in one `BEGIN IMMEDIATE` transaction, so one
//! fsync covers it and a failure stores none of it. Arrival order is the `rowid`.
//!
//! Cost: a batch without grant changes (the common case) is a few multi-row statements
//! ([`super::rows`]): its new notifications, then their jobs. A batch with a grant change goes
//! notification by notification, since a later job must see the grant the earlier notifications
//! left.

use std::collections::HashSet;
use std::sync::LazyLock;

use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::enqueue::{self, Enqueued};
use super::{SqliteStore, begin_write, commit, db_error, grants, rows};
use crate::ids::{EventId, GrantId};
use crate::store::codec::millis;
use crate::store::ingest::first_copies;
use crate::store::notifications::{IngestEngine, exec};
use crate::store::{IncomingNotification, IngestOutcome, JobRequest, QueuePolicy, StoreError};

/// Logs notifications, several per statement; `?1`… are each row's columns. `RETURNING` names
/// the ids that were not stored before.
const INSERT_NOTIFICATIONS: rows::Shape = rows::Shape {
    template: "\
INSERT INTO notifications (id, trigger, grant_id, event_id, received_at, body)
VALUES {rows}
ON CONFLICT (id) DO NOTHING
RETURNING id",
    shared: 0,
    columns: 6,
    positioned: false,
};

static INSERT_NOTIFICATIONS_TEXTS: LazyLock<rows::Statements> =
    LazyLock::new(|| rows::Statements::build(&INSERT_NOTIFICATIONS));

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
        let result = if batch.iter().any(|n| n.grant_change.is_some()) {
            one_by_one(&mut tx, batch, now, &self.policy).await?
        } else {
            together(&mut tx, batch, now, &self.policy).await?
        };
        commit(tx).await?;
        Ok(result)
    }
}

/// Ingests a batch that changes no grant with two kinds of multi-row statements: the new
/// notifications, then their jobs in arrival order. The grants cannot change in between, so this
/// is what [`one_by_one`] would do.
async fn together(
    conn: &mut SqliteConnection,
    batch: &[IncomingNotification],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<(Vec<IngestOutcome>, bool), StoreError> {
    let firsts = first_copies(batch);
    let picked: Vec<&IncomingNotification> = firsts.iter().map(|&index| &batch[index]).collect();
    let stored = insert_many(conn, &picked).await?;
    let accepted: Vec<usize> = firsts
        .into_iter()
        .filter(|&index| stored.contains(batch[index].id.as_str()))
        .collect();
    let jobs: Vec<&JobRequest> = accepted
        .iter()
        .filter_map(|&index| batch[index].job.as_ref())
        .collect();
    let changed = enqueue::upsert_jobs(conn, &jobs, now, policy).await?;
    let mut outcomes = vec![IngestOutcome::Duplicate; batch.len()];
    for index in accepted {
        outcomes[index] = IngestOutcome::Accepted;
    }
    Ok((outcomes, changed))
}

/// Ingests a batch notification by notification (a batch that changes a grant: a later job of
/// the batch must see the grant as the earlier notifications left it).
async fn one_by_one(
    conn: &mut SqliteConnection,
    batch: &[IncomingNotification],
    now: Timestamp,
    policy: &QueuePolicy,
) -> Result<(Vec<IngestOutcome>, bool), StoreError> {
    let mut outcomes = Vec::with_capacity(batch.len());
    let mut changed = false;
    for notification in batch {
        if insert_many(conn, &[notification]).await?.is_empty() {
            outcomes.push(IngestOutcome::Duplicate);
            continue;
        }
        if let (Some(change), Some(grant_id)) =
            (notification.grant_change, notification.grant_id.as_ref())
        {
            changed |= grants::apply_change(conn, grant_id, change, now).await?;
        }
        if let Some(job) = &notification.job {
            changed |= enqueue::enqueue_one(conn, job, now, policy).await? == Enqueued::Applied;
        }
        outcomes.push(IngestOutcome::Accepted);
    }
    Ok((outcomes, changed))
}

/// Logs notifications with distinct ids, in order (`rowid` order is arrival order); returns the
/// ids that were not stored before.
async fn insert_many(
    conn: &mut SqliteConnection,
    notifications: &[&IncomingNotification],
) -> Result<HashSet<String>, StoreError> {
    let mut stored = HashSet::with_capacity(notifications.len());
    for chunk in rows::chunks(notifications) {
        let mut query =
            sqlx::query_scalar::<_, String>(INSERT_NOTIFICATIONS_TEXTS.for_rows(chunk.len()));
        for notification in chunk {
            query = query
                .bind(notification.id.as_str())
                .bind(&notification.trigger)
                .bind(notification.grant_id.as_ref().map(GrantId::as_str))
                .bind(notification.event_id.as_ref().map(EventId::as_str))
                .bind(millis(notification.received_at))
                .bind(&notification.body);
        }
        stored.extend(query.fetch_all(&mut *conn).await.map_err(db_error)?);
    }
    Ok(stored)
}
