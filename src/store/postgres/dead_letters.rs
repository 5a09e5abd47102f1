//! Retrying dead letters on PostgreSQL, the engine hook of [`crate::store::DeadLetters`]
//! (implemented once in [`crate::store::dead_letters`]). Retrying locks the selected letters (`FOR UPDATE`), so two
//! operators retrying at once requeue each letter once, and requeues them in one multi-row
//! enqueue under the grant-deletion fence.

use std::collections::HashSet;

use jiff::Timestamp;
use sqlx::postgres::PgConnection;

use super::enqueue::{self, Fence};
use super::{PostgresStore, begin, commit, db_error, grants};
use crate::store::codec;
use crate::store::dead_letters::{RetryEngine, select_dead_letters};
use crate::store::{DeadLetter, DeadLetterSelection, JobRequest, JobSource, StoreError};

impl RetryEngine for PostgresStore {
    /// Requeues the selected dead letters in one transaction. Returns how many were requeued
    /// (and removed), and whether any job was created or changed.
    async fn requeue_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<(u64, bool), StoreError> {
        let mut tx = begin(&self.pool).await?;
        enqueue::fence(&mut tx, Fence::Enqueue).await?;
        let letters = select_for_retry(&mut tx, selection).await?;
        let grant_ids: Vec<&str> = letters
            .iter()
            .map(|letter| letter.request.grant_id.as_str())
            .collect();
        let deleted: HashSet<String> = grants::deleted_among(&mut tx, &grant_ids)
            .await?
            .into_iter()
            .collect();
        let (runnable, requests): (Vec<i64>, Vec<JobRequest>) = letters
            .into_iter()
            .filter(|letter| !deleted.contains(letter.request.grant_id.as_str()))
            .map(|letter| {
                let mut request = letter.request;
                request.source = JobSource::DeadLetterRetry;
                (letter.id, request)
            })
            .unzip();
        let refs: Vec<&JobRequest> = requests.iter().collect();
        let changed = enqueue::enqueue_all(&mut tx, &refs, now, &self.policy)
            .await?
            .contains(&true);
        let removed = sqlx::query("DELETE FROM dead_letters WHERE id = ANY($1::int8[])")
            .bind(&runnable)
            .execute(&mut *tx)
            .await
            .map_err(db_error)?
            .rows_affected();
        if changed {
            enqueue::notify(&mut tx).await?;
        }
        commit(tx).await?;
        Ok((removed, changed))
    }
}

/// The selected dead letters, oldest first, locked until the transaction ends.
async fn select_for_retry(
    conn: &mut PgConnection,
    selection: &DeadLetterSelection,
) -> Result<Vec<DeadLetter>, StoreError> {
    let query = match selection {
        DeadLetterSelection::All => {
            sqlx::query(concat!(select_dead_letters!(), " ORDER BY id FOR UPDATE"))
        }
        DeadLetterSelection::Ids(ids) => sqlx::query(concat!(
            select_dead_letters!(),
            " WHERE id = ANY($1::int8[]) ORDER BY id FOR UPDATE"
        ))
        .bind(ids),
    };
    let rows = query.fetch_all(&mut *conn).await.map_err(db_error)?;
    rows.iter().map(codec::dead_letter_from_row).collect()
}
