//! The store-wide gauges (`calsync_jobs`, `calsync_oldest_pending_job_age_seconds`,
//! `calsync_grants_paused`) describe the shared store, so with several replicas on one
//! PostgreSQL store only one of them exports them: the holder of the store lock [`LOCK`], taken
//! or renewed at each scrape of `/metrics`. The others leave them out of their scrape (and say
//! so with `calsync_store_gauges_exporter 0`), so `sum()`, `max()` and alerts over replicas see
//! each job once.
//!
//! Invariants: at most one replica exports at any time (the lock); when the exporter stops
//! cleanly it releases the lock (see `App::serve`) and the next scrape of another replica takes
//! over; when it dies, another takes over within [`LOCK_TTL`]. A store that cannot be read or
//! locked within [`TIMEOUT`] exports nothing store-wide for that scrape (no stale values).

use std::time::Duration;

use jiff::Timestamp;

use super::metrics::Metrics;
use crate::store::{Store, StoreError};

/// The store lock naming the exporting replica.
pub const LOCK: &str = "store-gauges";

/// How long the lock outlives the last scrape of its holder: Prometheus must scrape each
/// replica more often than this.
pub const LOCK_TTL: Duration = Duration::from_secs(120);

/// The longest a scrape waits for the store.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// Takes or renews the exporter lock for `owner` and, when held, refreshes the store-wide
/// gauges; whether this replica exports them in this scrape.
pub async fn refresh(store: &dyn Store, owner: &str, metrics: &Metrics, now: Timestamp) -> bool {
    let exporting = match tokio::time::timeout(TIMEOUT, read(store, owner, metrics, now)).await {
        Ok(Ok(exporting)) => exporting,
        Ok(Err(error)) => {
            tracing::warn!(error = %crate::cause::Chain(&error), "Could not read the store-wide gauges for /metrics.");
            false
        }
        Err(_) => {
            tracing::warn!("The store did not answer in time for /metrics' store-wide gauges.");
            false
        }
    };
    metrics.set_store_gauges_exporter(exporting);
    exporting
}

async fn read(
    store: &dyn Store,
    owner: &str,
    metrics: &Metrics,
    now: Timestamp,
) -> Result<bool, StoreError> {
    if !store.try_lock(LOCK, owner, now, LOCK_TTL).await? {
        return Ok(false);
    }
    let stats = store.job_stats(now).await?;
    let paused = store.paused_grants().await?;
    metrics.set_job_stats(&stats, now);
    metrics.set_grants_paused(paused);
    Ok(true)
}
