//! What lets the SQL shared by both backends be written once without restating sqlx's type
//! bounds at every function: [`Portable`], implemented by exactly the two engines, runs a
//! statement with [`Param`]s and returns rows that read as [`Cells`].
//!
//! Invariants: a shared statement binds only text, 64-bit integers and booleans (optional or
//! not), the types both schemas store (see `codec`); the bounds on what sqlx can encode and
//! decode are stated once here, so generic code asks only `DB: Portable`. Only
//! [`super::sqlite`] and [`super::postgres`] are `Portable`.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::Notify;

use sqlx::{ColumnIndex, Decode, Encode, Row, Type};

use super::StoreError;

/// A backend's classification of its run-time errors (see each backend's `db_error`).
pub(in crate::store) type Classify = fn(sqlx::Error) -> StoreError;

/// One parameter of a shared statement (`$1`, `$2`, … in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::store) enum Param<'a> {
    /// Text, or NULL.
    Text(Option<&'a str>),
    /// A 64-bit integer (timestamps in ms, counts, versions), or NULL.
    Int(Option<i64>),
    /// A boolean.
    Flag(bool),
}

impl<'a> From<&'a str> for Param<'a> {
    fn from(value: &'a str) -> Self {
        Param::Text(Some(value))
    }
}

impl<'a> From<Option<&'a str>> for Param<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Param::Text(value)
    }
}

impl From<i64> for Param<'_> {
    fn from(value: i64) -> Self {
        Param::Int(Some(value))
    }
}

impl From<Option<i64>> for Param<'_> {
    fn from(value: Option<i64>) -> Self {
        Param::Int(value)
    }
}

impl From<bool> for Param<'_> {
    fn from(value: bool) -> Self {
        Param::Flag(value)
    }
}

/// A row of either backend, read by column name (NULL reads as `None`).
pub(in crate::store) trait Cells {
    /// A text column.
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
    /// A 64-bit integer column.
    fn int(&self, column: &str) -> Result<Option<i64>, sqlx::Error>;
    /// A boolean column.
    fn flag(&self, column: &str) -> Result<Option<bool>, sqlx::Error>;
    /// A binary column.
    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error>;
}

impl<R> Cells for R
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Vec<u8>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        self.try_get(column)
    }

    fn int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(column)
    }

    fn flag(&self, column: &str) -> Result<Option<bool>, sqlx::Error> {
        self.try_get(column)
    }

    fn bytes(&self, column: &str) -> Result<Option<Vec<u8>>, sqlx::Error> {
        self.try_get(column)
    }
}

/// An engine the shared SQL runs on: SQLite or PostgreSQL.
pub(in crate::store) trait Portable: sqlx::Database<Row: Cells> {
    /// Runs `sql` with `params` on `conn`; how many rows it inserted, updated or deleted.
    fn execute(
        conn: &mut Self::Connection,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send;

    /// The first row `sql` returns, if any.
    fn fetch_optional(
        conn: &mut Self::Connection,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send;

    /// Every row `sql` returns.
    fn fetch_all(
        conn: &mut Self::Connection,
        sql: &'static str,
        params: &[Param<'_>],
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send;
}

/// `sql` with `params` bound in order.
fn bound<DB>(
    sql: &'static str,
    params: &[Param<'_>],
) -> sqlx::query::Query<'static, DB, DB::Arguments>
where
    DB: sqlx::Database,
    for<'q> Option<&'q str>: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
    for<'q> bool: Encode<'q, DB> + Type<DB>,
{
    params
        .iter()
        .fold(sqlx::query::<DB>(sql), |query, param| match *param {
            Param::Text(value) => query.bind(value),
            Param::Int(value) => query.bind(value),
            Param::Flag(value) => query.bind(value),
        })
}

/// Implements [`Portable`] for an engine with sqlx's own execution.
macro_rules! portable {
    ($engine:ty) => {
        impl Portable for $engine {
            async fn execute(
                conn: &mut Self::Connection,
                sql: &'static str,
                params: &[Param<'_>],
            ) -> Result<u64, sqlx::Error> {
                let result = bound::<$engine>(sql, params).execute(&mut *conn).await?;
                Ok(result.rows_affected())
            }

            async fn fetch_optional(
                conn: &mut Self::Connection,
                sql: &'static str,
                params: &[Param<'_>],
            ) -> Result<Option<Self::Row>, sqlx::Error> {
                bound::<$engine>(sql, params)
                    .fetch_optional(&mut *conn)
                    .await
            }

            async fn fetch_all(
                conn: &mut Self::Connection,
                sql: &'static str,
                params: &[Param<'_>],
            ) -> Result<Vec<Self::Row>, sqlx::Error> {
                bound::<$engine>(sql, params).fetch_all(&mut *conn).await
            }
        }
    };
}

portable!(sqlx::Sqlite);
portable!(sqlx::Postgres);

/// A store on one engine, as the concerns implemented once for both backends see it: where to
/// read, where to write, how a write is guarded, how errors are classified, and the hooks every
/// concern shares for what genuinely differs between the engines: wake-ups of other processes
/// ([`Engine::announce`]: `NOTIFY`) and the grant-deletion fence ([`Engine::fence_deletion`]).
/// A concern with a difference of its own states it in a sub-trait beside it (`QueueEngine`:
/// claiming and enqueueing; `IngestEngine`: multi-row ingest and arrival order; `RetryEngine`:
/// requeueing dead letters), which each backend implements in that concern's file.
pub(in crate::store) trait Engine: Send + Sync + 'static {
    /// The engine.
    type Db: Portable;

    /// The pool reads go to.
    fn reads(&self) -> &sqlx::Pool<Self::Db>;

    /// The pool writes go to.
    fn writes(&self) -> &sqlx::Pool<Self::Db>;

    /// The engine's classification of run-time errors.
    fn classify(error: sqlx::Error) -> StoreError;

    /// Starts a transaction that reads before it writes (SQLite: `BEGIN IMMEDIATE` on the write
    /// connection, so the write lock is held from the start).
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, StoreError>> + Send;

    /// Runs a write under the backend's guard (SQLite's check of its database file).
    fn guarded<T: Send>(
        &self,
        write: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> impl Future<Output = Result<T, StoreError>> + Send;

    /// This process's workers' wake-up signal.
    fn wakeups(&self) -> &Arc<Notify>;

    /// Makes other processes' workers look for work once `conn`'s transaction commits
    /// (PostgreSQL `NOTIFY`; SQLite has no channel: other processes poll).
    fn announce(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Takes the grant-deletion fence exclusively for the rest of `conn`'s transaction, so no
    /// concurrent enqueue leaves a job of a deleted grant behind (PostgreSQL; SQLite's single
    /// writer needs none).
    fn fence_deletion(
        conn: &mut <Self::Db as sqlx::Database>::Connection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Wakes this process's workers when `changed` (work may have become claimable).
    fn wake(&self, changed: bool) {
        if changed {
            self.wakeups().notify_waiters();
        }
    }
}

/// Commits a write transaction that ends a claim or changes a grant; when it made work
/// claimable, announces it to other processes in the same transaction.
pub(in crate::store) async fn commit_announced<E: Engine>(
    mut tx: sqlx::Transaction<'static, E::Db>,
    changed: bool,
) -> Result<(), StoreError> {
    if changed {
        E::announce(&mut tx).await?;
    }
    tx.commit().await.map_err(E::classify)
}
