//! Whether the store can commit, as the edge sees it: the basis of `/readyz` during store
//! trouble (a database locked beyond its busy timeout, a full disk, a lost connection).
//!
//! A read (`Store::ping`) succeeds while commits fail — a locked or full SQLite database still
//! answers reads — so readiness also tracks commits:
//! - every ingest commit the edge waits for reports its outcome here ([`CommitHealth::record`]);
//! - while the last outcome was a failure, `/readyz` answers 503 unless a small probe write
//!   ([`CommitHealth::probe`], a cursor row) commits, which also marks the store healthy again.
//!   So readiness recovers by itself once the store does, even with no traffic, and a healthy
//!   store costs no write per readiness check.
//!
//! Invariant: every check is bounded by [`PROBE_TIMEOUT`], so a load balancer's health check
//! gets an answer even while the store hangs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// The longest a readiness check waits for the store.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The cursor the probe write touches (its value: the time of the last successful probe).
pub const PROBE_CURSOR: &str = "calsync.readiness_probe";

/// Why the store is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the store did not answer within {}s", PROBE_TIMEOUT.as_secs())]
    Timeout,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The edge's view of whether the store can commit. Shared by the handlers.
#[derive(Debug, Default)]
pub struct CommitHealth {
    failing: AtomicBool,
}

impl CommitHealth {
    /// Records the outcome of a commit the edge waited for.
    pub fn record(&self, committed: bool) {
        let was_failing = self.failing.swap(!committed, Ordering::Relaxed);
        match (was_failing, committed) {
            (false, false) => tracing::error!(
                "The store cannot commit: notifications are answered 503 and /readyz fails until it recovers."
            ),
            (true, true) => tracing::info!("The store commits again; accepting notifications."),
            _ => {}
        }
    }

    /// True while the last commit failed (and no probe has succeeded since).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Checks the store: a read when commits are healthy; a probe write while they fail (a
    /// success marks them healthy again).
    pub async fn probe(&self, store: &dyn Store, clock: Clock) -> Result<(), NotReady> {
        if !self.is_failing() {
            return bounded(store.ping()).await;
        }
        let now = clock.now();
        bounded(store.put_cursor(PROBE_CURSOR, &now.to_string(), now)).await?;
        self.record(true);
        Ok(())
    }
}

async fn bounded(
    check: impl std::future::Future<Output = Result<(), StoreError>>,
) -> Result<(), NotReady> {
    match tokio::time::timeout(PROBE_TIMEOUT, check).await {
        Ok(result) => result.map_err(NotReady::Store),
        Err(_) => Err(NotReady::Timeout),
    }
}
