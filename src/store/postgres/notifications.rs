//! Ingest on PostgreSQL, the engine hook of the notification log
//! ([`crate::store::NotificationLog`], implemented once in [`crate::store::notifications`]): storing a batch of notifications and applying
//! what they cause, in one durable transaction with a handful of multi-row statements.
//!
//! Invariants:
//! - A notification id is stored once. Within a batch, later copies of an id are `Duplicate`
//!   without reaching the database. Across batches and replicas, `INSERT … ON CONFLICT (id) DO
//!   NOTHING RETURNING id` says which ids are new: when two replicas insert one id at the same
//!   moment, the second waits on the first's uncommitted index entry and, once the first commits,
//!   skips it (`Duplicate`, answered only after the first copy is durable); if the first rolls
//!   back, the second stores it. Ids are inserted in sorted order so two batches sharing ids lock
//!   them in the same order and cannot deadlock.
//! - Only a newly stored notification applies its grant change (in arrival order) and then its
//!   job (through the coalescing enqueue), all in the same transaction: a failure stores none of
//!   the batch, and one commit (one WAL flush) covers it.
//! - `seq` records arrival order: notifications received in the same millisecond list in the
//!   order they were submitted.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::postgres::PgConnection;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, commit, db_error, grants};
use crate::ids::{EventId, GrantId};
use crate::store::codec::millis;
use crate::store::ingest::first_copies;
use crate::store::notifications::{IngestEngine, exec};
use crate::store::{GrantChange, IncomingNotification, IngestOutcome, JobRequest, StoreError};

/// Numbers the rows in arrival order, then inserts them in id order.
const INSERT_NOTIFICATIONS: &str = "\
WITH input AS MATERIALIZED (
    SELECT i.id, i.trigger, i.grant_id, i.event_id, i.received_at, i.body,
           nextval('notifications_seq') AS seq
    FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[], $6::bytea[])
         WITH ORDINALITY AS i(id, trigger, grant_id, event_id, received_at, body, position)
    ORDER BY i.position
)
INSERT INTO notifications (id, seq, trigger, grant_id, event_id, received_at, body)
SELECT id, seq, trigger, grant_id, event_id, received_at, body FROM input ORDER BY id
ON CONFLICT (id) DO NOTHING
RETURNING id";

impl IngestEngine for PostgresStore {
    const BY_ARRIVAL: &'static str = exec::LIST_BY_SEQ;

    /// Stores a batch; returns one outcome per notification and whether any job became claimable.
    async fn ingest_batch(
        &self,
        batch: &[IncomingNotification],
        now: Timestamp,
    ) -> Result<(Vec<IngestOutcome>, bool), StoreError> {
        let firsts = first_copies(batch);
        let deletes_grant = firsts
            .iter()
            .any(|&index| batch[index].grant_change == Some(GrantChange::Deleted));
        let mut tx = begin(&self.pool).await?;
        let fence = if deletes_grant {
            Fence::DeleteGrant
        } else {
            Fence::Enqueue
        };
        enqueue::fence(&mut tx, fence).await?;
        let stored = insert(&mut tx, batch, &firsts).await?;
        let accepted: Vec<usize> = firsts
            .into_iter()
            .filter(|&index| stored.contains(batch[index].id.as_str()))
            .collect();
        let mut changed = false;
        for &index in &accepted {
            let notification = &batch[index];
            if let (Some(change), Some(grant_id)) =
                (notification.grant_change, notification.grant_id.as_ref())
            {
                changed |= grants::apply_change(&mut tx, grant_id, change, now).await?;
            }
        }
        let jobs: Vec<&JobRequest> = accepted
            .iter()
            .filter_map(|&index| batch[index].job.as_ref())
            .collect();
        changed |= enqueue::enqueue_all(&mut tx, &jobs, now, &self.policy)
            .await?
            .contains(&true);
        if changed {
            enqueue::notify(&mut tx).await?;
        }
        commit(tx).await?;
        let mut outcomes = vec![IngestOutcome::Duplicate; batch.len()];
        for index in accepted {
            outcomes[index] = IngestOutcome::Accepted;
        }
        Ok((outcomes, changed))
    }
}

/// Logs the given notifications; returns the ids that were not stored before.
async fn insert(
    conn: &mut PgConnection,
    batch: &[IncomingNotification],
    picked: &[usize],
) -> Result<HashSet<String>, StoreError> {
    let rows = || picked.iter().map(|&index| &batch[index]);
    let ids: Vec<&str> = rows().map(|n| n.id.as_str()).collect();
    let triggers: Vec<&str> = rows().map(|n| n.trigger.as_str()).collect();
    let grants: Vec<Option<&str>> = rows()
        .map(|n| n.grant_id.as_ref().map(GrantId::as_str))
        .collect();
    let events: Vec<Option<&str>> = rows()
        .map(|n| n.event_id.as_ref().map(EventId::as_str))
        .collect();
    let received: Vec<i64> = rows().map(|n| millis(n.received_at)).collect();
    let bodies: Vec<&[u8]> = rows().map(|n| n.body.as_slice()).collect();
    let stored: Vec<String> = sqlx::query_scalar(INSERT_NOTIFICATIONS)
        .bind(ids)
        .bind(triggers)
        .bind(grants)
        .bind(events)
        .bind(received)
        .bind(bodies)
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error)?;
    Ok(stored.into_iter().collect())
}
