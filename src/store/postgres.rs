//! The PostgreSQL backend: one database shared by any number of calsync replicas (and by CLI
//! commands such as `calsync dlq retry` running beside them), with the same behaviour as the
//! SQLite backend — every invariant of the store's concerns holds across replicas exactly as it
//! holds across the workers of one process.
//!
//! How replicas share the work:
//! - **Claims** are `SELECT … FOR UPDATE SKIP LOCKED` feeding a lease update in one statement
//!   (`jobs`): replicas never wait for each other's claims and never claim the same key twice;
//!   a dead replica's leases expire and its jobs are claimed by the others. Leases compare
//!   against the `now` each replica passes, so replicas' clocks must agree to well within
//!   `sync.lease` (NTP).
//! - **Ingest** commits a batch in one transaction with multi-row statements (`notifications`,
//!   `enqueue`): throughput grows with the batch, not with the number of commits. Deduplication
//!   by notification id and coalescing by record key hold when one notification reaches two
//!   replicas at the same moment.
//! - **Wake-ups** are `LISTEN/NOTIFY` (`listener`): a commit that makes work claimable notifies
//!   every replica's workers; the workers' polling remains the fallback.
//! - **Migrations** run at open under sqlx's advisory lock (`connection`), so replicas may start
//!   together.
//!
//! Error mapping: a bad URL, wrong credentials, a missing database and a failed migration are
//! [`StoreError::Setup`]; undecodable rows are [`StoreError::Corrupt`]; a lost connection, a
//! pool timeout, a restarting server or a lost deadlock are [`StoreError::Unavailable`], which
//! callers retry later. No message contains the URL's password.
//!
//! Durability: commits wait for the WAL flush (`synchronous_commit` is forced `on` for sessions
//! whose server default is `off`). Requires PostgreSQL 13 or later. Tables are created in the
//! first schema of the connection's `search_path` (set one with
//! `?options=-c%20search_path%3Dcalsync`).

mod connection;
mod dead_letters;
mod engine;
mod enqueue;
mod grants;
mod jobs;
mod listener;
mod nodelay;
mod notifications;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::postgres::PgPool;
use tokio::sync::Notify;

use self::connection::{begin, commit, db_error, open_error};
use self::listener::Listener;
use super::{Lifecycle, QueuePolicy, StoreError};

pub use self::listener::LISTENER_APPLICATION_NAME;

/// The PostgreSQL store. Clones share the pool and the listener; the listener stops when the
/// last clone is dropped or [`PostgresStore::close`] is called.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    wakeups: Arc<Notify>,
    listener: Arc<Listener>,
    /// How enqueued jobs are scheduled (coalescing).
    policy: QueuePolicy,
}

impl PostgresStore {
    /// Schedules enqueued jobs by `policy` (coalescing); the default is
    /// [`QueuePolicy::IMMEDIATE`].
    pub fn with_queue_policy(self, policy: QueuePolicy) -> Self {
        Self { policy, ..self }
    }

    /// Connects to the database a `postgres://` (or `postgresql://`) URL names, runs the
    /// migrations, and subscribes to wake-ups.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options = connection::connect_options(url)?;
        let pool = connection::open_pool(url, options.clone()).await?;
        Self::listen(url, pool, options).await
    }

    /// Connects to read an existing calsync database (see [`crate::store::open_existing`]):
    /// nothing is migrated, and sessions are read-only.
    pub async fn open_existing(url: &str) -> Result<Self, StoreError> {
        let options = connection::connect_options(url)?;
        let pool = connection::open_existing_pool(url, options.clone()).await?;
        Self::listen(url, pool, options).await
    }

    /// Subscribes to wake-ups and wraps the pool.
    async fn listen(
        url: &str,
        pool: PgPool,
        options: sqlx::postgres::PgConnectOptions,
    ) -> Result<Self, StoreError> {
        let wakeups = Arc::new(Notify::new());
        let listener = match Listener::start(options, wakeups.clone()).await {
            Ok(listener) => listener,
            Err(error) => {
                pool.close().await;
                return Err(open_error(url, error));
            }
        };
        Ok(Self {
            pool,
            wakeups,
            listener: Arc::new(listener),
            policy: QueuePolicy::IMMEDIATE,
        })
    }

    /// Stops the listener and closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.listener.stop().await;
        self.pool.close().await;
    }
}

#[async_trait]
impl Lifecycle for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn close(&self) {
        PostgresStore::close(self).await;
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(db_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_server_is_unavailable_and_a_bad_url_is_setup() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let error = PostgresStore::open("postgres://calsync:s3cret@127.0.0.1:1/calsync")
            .await
            .expect_err("nothing listens on port 1");
        assert!(matches!(error, StoreError::Unavailable(_)), "{error:?}");
        assert!(!error.to_string().contains("s3cret"), "{error}");

        let error = PostgresStore::open("postgres://calsync:s3cret@db:notaport/calsync")
            .await
            .expect_err("a bad port");
        assert!(matches!(error, StoreError::Setup(_)), "{error:?}");
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }
}
