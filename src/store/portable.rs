//! What the SQL written once for both backends needs beyond sqlx's generic API: how a backend
//! classifies its errors, and how many rows a statement changed (sqlx has no generic accessor).
//!
//! Invariant: only [`super::sqlite`] and [`super::postgres`] implement [`RowsAffected`], each by
//! asking its own driver, so a shared statement's count means the same on both.

use super::StoreError;

/// A backend's classification of its run-time errors (see each backend's `db_error`).
pub(in crate::store) type Classify = fn(sqlx::Error) -> StoreError;

/// The number of rows a statement inserted, updated or deleted.
pub(in crate::store) trait RowsAffected {
    /// How many rows changed.
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}
