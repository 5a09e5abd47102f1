//! Recording a job's result in the store (invariant 7).
//!
//! Success completes the job (the store re-queues it if the key was notified meanwhile).
//! A failure is settled by its classification: `Permanent` dead-letters at once; `After` retries
//! at the time the server asked for, else after exponential backoff with jitter, and dead-letters
//! once `max_attempts` failures are reached; `Auth` waits without counting an attempt (fixing the
//! credential fixes the job) and logs an error naming the target. The next attempt time is
//! persisted, so a restart keeps the schedule.

use std::time::Duration;

use crate::clock;
use crate::retry::{Backoff, Retry};
use crate::store::{ClaimedJob, Completion, RetryPlan, StoreError};

use super::process::{Processor, SyncError, SyncOutcome};

/// The retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub backoff: Backoff,
    /// Failures of one event before it is dead-lettered.
    pub max_attempts: u32,
}

/// What happened to a job after it ran.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// It succeeded with this outcome.
    Done(SyncOutcome),
    /// It will run again (the key was notified while it ran).
    Requeued(SyncOutcome),
    /// It failed, but the key was notified meanwhile: it runs again at once with the news.
    Superseded,
    /// It failed and will be retried after the delay.
    RetryLater(Duration),
    /// It failed for good and is now a dead letter.
    DeadLettered,
}

impl Processor {
    /// Records the result of [`Processor::sync`] for `job`.
    pub async fn settle(
        &self,
        job: &ClaimedJob,
        result: Result<SyncOutcome, SyncError>,
        policy: &RetryPolicy,
    ) -> Result<Settled, StoreError> {
        let now = self.clock.now();
        let error = match result {
            Ok(outcome) => {
                self.metrics.record_outcome(outcome.as_str());
                tracing::info!(
                    crm.kind = self.crm.kind(),
                    outcome = outcome.as_str(),
                    "Synced the event."
                );
                return Ok(match self.store.complete(&job.lease, now).await? {
                    Completion::Finished => Settled::Done(outcome),
                    Completion::Requeued => Settled::Requeued(outcome),
                });
            }
            Err(error) => error,
        };
        let failures = job.attempts.saturating_add(1);
        let message = error.to_string();
        self.metrics.job_failure(match error.retry() {
            Retry::After(_) => "retryable",
            Retry::Permanent => "permanent",
            Retry::Auth => "auth",
        });
        let (delay, count_attempt) = match error.retry() {
            Retry::Permanent => return self.bury(job, &message, "a permanent error").await,
            Retry::After(_) if failures >= policy.max_attempts => {
                return self.bury(job, &message, "too many failed attempts").await;
            }
            Retry::After(asked) => (
                asked.unwrap_or_else(|| policy.backoff.delay(failures)),
                true,
            ),
            Retry::Auth => {
                self.metrics
                    .auth_failure(&format!("crm:{}", self.crm.kind()));
                tracing::error!(
                    crm.kind = self.crm.kind(),
                    error = %message,
                    "Credentials were rejected; the job waits until they are fixed."
                );
                (policy.backoff.ceiling(failures), false)
            }
        };
        tracing::warn!(
            error = %message,
            retry.after_ms = delay.as_millis() as u64,
            "The job failed and will be retried."
        );
        let plan = RetryPlan {
            at: clock::add(now, delay),
            error: message,
            count_attempt,
        };
        Ok(match self.store.retry(&job.lease, &plan, now).await? {
            Completion::Finished => Settled::RetryLater(delay),
            Completion::Requeued => Settled::Superseded,
        })
    }

    /// Dead-letters the job.
    async fn bury(
        &self,
        job: &ClaimedJob,
        message: &str,
        why: &'static str,
    ) -> Result<Settled, StoreError> {
        let now = self.clock.now();
        match self.store.dead_letter(&job.lease, message, now).await? {
            Some(id) => {
                tracing::error!(
                    error = %message,
                    dead_letter.id = id,
                    reason = why,
                    "The job failed for good and was moved to the dead letters."
                );
                Ok(Settled::DeadLettered)
            }
            None => Ok(Settled::Superseded),
        }
    }
}
