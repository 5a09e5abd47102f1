//! Recording a job's result in the store (invariant 7).
//!
//! Success completes the job (the store re-queues it if the key was notified meanwhile).
//! A failure is settled by its classification:
//! - `Permanent` dead-letters at once.
//! - An expired or revoked Nylas grant (a grant-scoped 401) pauses that grant: its jobs are not
//!   claimed until a `grant.updated` notification resumes it; other grants keep syncing. The
//!   job waits without counting an attempt.
//! - A upstream-level failure (see [`super::breaker`]) that the breaker judges upstream-wide
//!   (an outage, a throttle, rejected credentials) waits for the upstream to resume without
//!   counting an attempt; rejected credentials are also counted in
//!   `calsync_auth_failures_total` and logged as an error naming the upstream.
//! - Anything else retryable is the event's own failure: it retries at the time the server asked
//!   for, else after exponential backoff with jitter, and dead-letters once `max_attempts`
//!   failures are reached.
//! - A store failure, and a meeting whose lock another worker held too long, are nobody's
//!   attempt: the job retries after the first backoff step.
//!
//! The next attempt time is persisted with the job, so a restart keeps the schedule.

use std::time::Duration;

use crate::clock;
use crate::retry::{Backoff, Retry};
use crate::store::{ClaimedJob, Completion, GrantStatus, RetryPlan, StoreError};

use super::breaker::{Signal, Verdict};
use super::process::{Processor, SyncError, SyncOutcome};

/// The retry policy.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// The delay between attempts of one event.
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
    /// It failed (counting an attempt) and will be retried after the delay.
    RetryLater(Duration),
    /// It failed because its upstream is failing for everyone, throttling, or rejecting
    /// calsync's credentials: retried after the delay, without counting an attempt.
    Deferred(Duration),
    /// Nylas rejected its grant: the grant is paused, and the job waits for it to resume.
    GrantPaused,
    /// It failed for good and is now a dead letter.
    DeadLettered,
}

/// How to reschedule a failed job.
enum Plan {
    /// Retry after the delay; `counted` says whether the failure counts against the job.
    Retry { delay: Duration, counted: bool },
    /// Move it to the dead letters.
    Bury(&'static str),
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
                self.breaker.job_succeeded();
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
        let message = crate::cause::chain(&error);
        self.metrics.job_failure(match error.retry() {
            Retry::After(_) => "retryable",
            Retry::Permanent => "permanent",
            Retry::Auth => "auth",
        });
        if let SyncError::Nylas(nylas) = &error
            && nylas.is_grant_auth_failure()
        {
            return self.pause_grant(job, message).await;
        }
        let (delay, counted) = match self.plan(job, &error, policy) {
            Plan::Bury(why) => return self.bury(job, &message, why).await,
            Plan::Retry { delay, counted } => (delay, counted),
        };
        tracing::warn!(
            error = %message,
            retry.after_ms = delay.as_millis() as u64,
            job.attempt_counted = counted,
            "The job failed and will be retried."
        );
        let plan = RetryPlan {
            at: clock::add(now, delay),
            error: message,
            count_attempt: counted,
        };
        Ok(match self.store.retry(&job.lease, &plan, now).await? {
            Completion::Finished if counted => Settled::RetryLater(delay),
            Completion::Finished => Settled::Deferred(delay),
            Completion::Requeued => Settled::Superseded,
        })
    }

    /// Decides how a failure is rescheduled (see the module docs).
    fn plan(&self, job: &ClaimedJob, error: &SyncError, policy: &RetryPolicy) -> Plan {
        let retry = error.retry();
        if retry == Retry::Permanent {
            return Plan::Bury("a permanent error");
        }
        if let Some((upstream, signal)) = error.breaker_signal() {
            if signal == Signal::Auth {
                self.metrics.auth_failure(self.breaker.label(upstream));
            }
            let verdict = self
                .breaker
                .failure(upstream, job.request.record_key.as_str(), signal);
            if let Verdict::UpstreamWide { resume_in, .. } = verdict {
                return Plan::Retry {
                    delay: resume_in,
                    counted: false,
                };
            }
        }
        let failures = job.attempts.saturating_add(1);
        match (error, retry) {
            (SyncError::Store(_) | SyncError::MeetingBusy, _) => Plan::Retry {
                delay: policy.backoff.delay(1),
                counted: false,
            },
            (_, Retry::After(_)) if failures >= policy.max_attempts => {
                Plan::Bury("too many failed attempts")
            }
            (_, Retry::After(asked)) => Plan::Retry {
                delay: asked.unwrap_or_else(|| policy.backoff.delay(failures)),
                counted: true,
            },
            // Rejected credentials are upstream-wide (above); this is only reached by a
            // classification outside the breaker's: wait without counting.
            (_, Retry::Auth | Retry::Permanent) => Plan::Retry {
                delay: policy.backoff.max,
                counted: false,
            },
        }
    }

    /// Pauses the job's grant (Nylas rejected it) and parks the job without counting.
    async fn pause_grant(&self, job: &ClaimedJob, message: String) -> Result<Settled, StoreError> {
        let now = self.clock.now();
        let grant = &job.request.grant_id;
        self.metrics.auth_failure("nylas_grant");
        self.store
            .set_grant_status(grant, &GrantStatus::Paused { since: now }, now)
            .await?;
        tracing::warn!(
            grant.id = %grant,
            error = %message,
            "Nylas rejected the grant (expired or revoked); its jobs are paused until it is re-authenticated (grant.updated). Other grants keep syncing."
        );
        match self.store.paused_grants().await {
            Ok(count) => self.metrics.set_grants_paused(count),
            Err(error) => {
                tracing::warn!(error = %crate::cause::Chain(&error), "Could not count the paused grants.")
            }
        }
        let plan = RetryPlan {
            at: now,
            error: message,
            count_attempt: false,
        };
        Ok(match self.store.retry(&job.lease, &plan, now).await? {
            Completion::Finished => Settled::GrantPaused,
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
