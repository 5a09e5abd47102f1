//! Whether the store can commit, as the edge sees it: the basis of `/readyz`.
//!
//! A read proves little — a locked, full or detached SQLite database still answers reads — so a
//! readiness check proves a write: a tiny write transaction on a health row (the cursor
//! [`PROBE_CURSOR`], whose value is the time of the probe). Probes are rate-limited so that
//! health checks cannot hammer the store:
//! - a probe that committed answers every check for [`PROOF_TTL`] after it, unless a commit
//!   failed since;
//! - while commits fail, at most one probe runs per [`PROOF_TTL`]; checks in between answer with
//!   the last failure;
//! - concurrent checks wait for one probe instead of each running their own.
//!
//! Every ingest commit the edge waits for reports its outcome ([`CommitHealth::record`]): a
//! failure makes the next check probe again, so `/readyz` fails as soon as notifications cannot
//! be stored, and it recovers by itself, with no notification needed, once a probe commits.
//!
//! Invariant: every check is bounded by [`PROBE_TIMEOUT`], so a load balancer's health check gets
//! an answer even while the store hangs; a probe that timed out counts as a failed commit.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::Mutex;

use crate::clock::Clock;
use crate::store::{Store, StoreError};

/// The longest a readiness check waits for the store.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long one probe's outcome answers readiness checks (see the module docs).
pub const PROOF_TTL: Duration = Duration::from_secs(1);

/// The cursor the probe write touches (its value: the time of the last probe).
pub const PROBE_CURSOR: &str = "calsync.readiness_probe";

/// Why the store is not ready.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// The probe did not finish within its timeout.
    #[error("the store did not answer within {}s", PROBE_TIMEOUT.as_secs())]
    Timeout,
    /// The probe write failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A probe failed less than [`PROOF_TTL`] ago (its error), and nothing has committed since.
    #[error("the store could not commit a probe write: {0}")]
    Recently(String),
}

/// The last probe write.
#[derive(Debug, Clone)]
struct Probe {
    at: Timestamp,
    /// `None` when it committed; the error otherwise.
    failure: Option<String>,
}

/// The edge's view of whether the store can commit. Shared by the handlers.
#[derive(Debug, Default)]
pub struct CommitHealth {
    failing: AtomicBool,
    /// The last probe; locked while a probe runs, so concurrent checks share it.
    last: Mutex<Option<Probe>>,
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

    /// True while the last commit failed (and no probe has committed since).
    pub fn is_failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// Checks that the store commits: answers from a recent probe, or runs a probe write (see
    /// the module docs).
    pub async fn probe(&self, store: &dyn Store, clock: Clock) -> Result<(), NotReady> {
        let write = |now: Timestamp| async move {
            store.put_cursor(PROBE_CURSOR, &now.to_string(), now).await
        };
        self.check(clock, write).await
    }

    /// Answers from a recent probe, or runs `write` as the probe; within [`PROBE_TIMEOUT`] (a
    /// timeout counts as a failed commit).
    async fn check<F>(
        &self,
        clock: Clock,
        write: impl FnOnce(Timestamp) -> F,
    ) -> Result<(), NotReady>
    where
        F: Future<Output = Result<(), StoreError>>,
    {
        let answer = tokio::time::timeout(PROBE_TIMEOUT, async {
            let mut last = self.last.lock().await;
            let now = clock.now();
            if let Some(probe) = last.as_ref().filter(|probe| is_recent(probe.at, now)) {
                match (&probe.failure, self.is_failing()) {
                    (None, false) => return Ok(()),
                    (Some(failure), true) => return Err(NotReady::Recently(failure.clone())),
                    // A commit failed after the probe succeeded, or one succeeded after it failed.
                    _ => {}
                }
            }
            let result = write(now).await;
            *last = Some(Probe {
                at: now,
                failure: result
                    .as_ref()
                    .err()
                    .map(|error| crate::cause::Chain(error).to_string()),
            });
            self.record(result.is_ok());
            result.map_err(NotReady::Store)
        })
        .await;
        answer.unwrap_or_else(|_| {
            self.record(false);
            Err(NotReady::Timeout)
        })
    }
}

/// Whether a probe at `at` still answers at `now` (a clock that went back does not extend it).
fn is_recent(at: Timestamp, now: Timestamp) -> bool {
    let age = now.duration_since(at);
    !age.is_negative() && age.unsigned_abs() < PROOF_TTL
}

#[cfg(test)]
mod tests;
