//! Retrying dead letters on SQLite, the engine hook of [`crate::store::DeadLetters`] (implemented
//! once in [`crate::store::dead_letters`]). Retrying requeues the selected letters one by one through
//! `enqueue::enqueue_one`, in one `BEGIN IMMEDIATE` transaction on the write connection.

use jiff::Timestamp;
use sqlx::sqlite::SqliteConnection;

use super::enqueue::{self, Enqueued};
use super::{SqliteStore, begin_write, commit, db_error};
use crate::store::codec;
use crate::store::dead_letters::{RetryEngine, select_dead_letters};
use crate::store::{DeadLetter, DeadLetterSelection, JobSource, StoreError};

impl RetryEngine for SqliteStore {
    /// Requeues the selected dead letters in one transaction. Returns how many were requeued (and
    /// removed), and whether any job was created or changed.
    async fn requeue_dead_letters(
        &self,
        selection: &DeadLetterSelection,
        now: Timestamp,
    ) -> Result<(u64, bool), StoreError> {
        let mut tx = begin_write(&self.write).await?;
        let letters = select(&mut tx, selection).await?;
        let (mut requeued, mut changed) = (0, false);
        for letter in letters {
            let mut request = letter.request;
            request.source = JobSource::DeadLetterRetry;
            match enqueue::enqueue_one(&mut tx, &request, now, &self.policy).await? {
                Enqueued::GrantDeleted => continue,
                Enqueued::Applied => changed = true,
                Enqueued::Stale => {}
            }
            sqlx::query("DELETE FROM dead_letters WHERE id = $1")
                .bind(letter.id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            requeued += 1;
        }
        commit(tx).await?;
        Ok((requeued, changed))
    }
}

/// The selected dead letters, oldest first.
async fn select(
    conn: &mut SqliteConnection,
    selection: &DeadLetterSelection,
) -> Result<Vec<DeadLetter>, StoreError> {
    let rows = match selection {
        DeadLetterSelection::All => sqlx::query(concat!(select_dead_letters!(), " ORDER BY id"))
            .fetch_all(&mut *conn)
            .await
            .map_err(db_error)?,
        DeadLetterSelection::Ids(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            let mut rows = Vec::with_capacity(ids.len());
            for id in ids {
                let row = sqlx::query(concat!(select_dead_letters!(), " WHERE id = $1"))
                    .bind(id)
                    .fetch_optional(&mut *conn)
                    .await
                    .map_err(db_error)?;
                rows.extend(row);
            }
            rows
        }
    };
    rows.iter().map(codec::dead_letter_from_row).collect()
}
