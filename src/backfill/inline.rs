//! Running a backfilled job in this process, so the backfill can count what happened to it.
//!
//! The job was enqueued like any other (one row per event, coalescing with webhook jobs); the
//! backfill then claims that key: with the lease it runs the write path itself and settles the
//! result; when the key is in flight elsewhere (a `serve` worker has it, or will) it leaves the
//! job to that process. Either way exactly one process writes the record, so a backfill beside
//! `serve` neither duplicates nor loses anything.
//!
//! Before any of that, an event whose grant's copy is already recorded with exactly this content
//! and whose meeting's record exists ([`Inline::already_current`]) is counted unchanged without
//! being enqueued: a re-run over unchanged events then costs a few store reads per event and no
//! write at all. It is the write path's own
//! "unchanged" test, made without a lease, which is safe: it only ever skips writing content
//! the CRM already has, and a newer change of that event has its own job.
//!
//! Invariants: the lease is renewed while the write path runs; a retryable failure is settled
//! (persisting its schedule, as the worker would) and waited out here, honouring `Retry-After`,
//! for at most [`INLINE_ATTEMPTS`] attempts; after that the job stays queued with its schedule
//! for `serve`, and the event counts as still failing. A credentials failure stops the caller
//! (every other event would fail the same way). Waits end early when the stop token fires.

use tracing::Instrument;

use crate::worker::process::job_span;
use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::progress::EventOutcome;
use crate::clock::Clock;
use crate::ids::{EventId, GrantId};
use crate::nylas::Event;
use crate::policy::{Decision, Source};
use crate::retry::Retry;
use crate::store::MeetingLedger;
use crate::store::{ClaimedJob, CopyStatus, Store, StoreError};
use crate::worker::settle::{RetryPolicy, Settled};
use crate::worker::{Processor, Series, SyncError, SyncOutcome};

/// The most attempts the backfill makes itself before leaving a failing job to `serve`.
pub const INLINE_ATTEMPTS: u32 = 6;
/// How many times a key notified while it ran is claimed again before leaving it to `serve`.
const MAX_SUPERSEDED: u32 = 8;

/// Why an inline job stopped the backfill's work on its grant.
#[derive(Debug, thiserror::Error)]
pub enum InlineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The CRM (or Nylas) refused the credentials.
    #[error("credentials were refused; fix them and run the backfill again: {0}")]
    Auth(String),
    /// The stop token fired while waiting to retry.
    #[error("interrupted")]
    Interrupted,
}

/// What an inline run ends with: the outcome to count, and a fatal error if the caller must stop.
pub type InlineResult = (EventOutcome, Option<InlineError>);

/// Runs jobs inline. Cheap to clone.
#[derive(Clone)]
pub struct Inline {
    pub store: Arc<dyn Store>,
    pub processor: Arc<Processor>,
    /// Runs each job, expanding series masters instead of writing them.
    pub series: Series,
    pub policy: RetryPolicy,
    /// This backfill's name in leases.
    pub owner: String,
    pub lease_for: Duration,
    pub clock: Clock,
    pub stop: CancellationToken,
}

impl Inline {
    /// How many jobs of one page run at once: enough to fill one of the CRM's batches, and one
    /// for a CRM that writes one record per request (the order of a sequential run).
    pub fn jobs_in_flight(&self) -> usize {
        self.processor.crm.batch_capacity().max(1)
    }

    /// True when this grant's copy of the event is recorded with this exact content and its
    /// meeting's record exists: the job would change nothing.
    pub async fn already_current(&self, event: &Event, grant_id: &str) -> Result<bool, StoreError> {
        // The record the write path would write: the policy's (owner, redaction, filters).
        let preview = self
            .processor
            .policy()
            .preview(event, grant_id, Source::SelectedCalendars);
        let Ok(Decision::Write(record)) = preview.await else {
            return Ok(false);
        };
        let ledger: &dyn MeetingLedger = &*self.store;
        let (grant_id, event_id) = (GrantId::from(grant_id), EventId::from(event.id.as_str()));
        let Some(copy) = ledger.copy(&grant_id, &event_id).await? else {
            return Ok(false);
        };
        if copy.status == CopyStatus::Deleted
            || copy.content_hash.as_deref() != Some(record.content_hash().as_str())
        {
            return Ok(false);
        }
        let Some(record_key) = ledger.record_key(&copy.meeting_key).await? else {
            return Ok(false);
        };
        let state = self
            .store
            .load_state(self.processor.crm.target(), &record_key)
            .await?;
        Ok(state.is_some_and(|state| {
            !state.tombstone && !state.create_pending && state.crm_record_id.is_some()
        }))
    }

    /// Claims `record_key` and runs it if no one else holds it.
    pub async fn run(&self, record_key: &EventId) -> Result<InlineResult, StoreError> {
        let attempts = self.policy.max_attempts.clamp(1, INLINE_ATTEMPTS);
        let mut failures = 0u32;
        let mut superseded = 0u32;
        loop {
            // Counted until the attempt is settled, not while waiting to retry.
            let running = self.processor.job_started();
            let now = self.clock.now();
            let claimed = self
                .store
                .claim_key(record_key, &self.owner, now, self.lease_for)
                .await?;
            let Some(job) = claimed else {
                return Ok((EventOutcome::HandedToServe, None));
            };
            let span = job_span(&job);
            let result = self.sync(&job).instrument(span.clone()).await;
            let auth = match &result {
                Err(error) if error.retry() == Retry::Auth => Some(crate::cause::chain(error)),
                _ => None,
            };
            let settled = self
                .processor
                .settle(&job, result, &self.policy)
                .instrument(span)
                .await?;
            let delay = match settled {
                Settled::Done(outcome) | Settled::Requeued(outcome) => {
                    return Ok((EventOutcome::Synced(outcome), None));
                }
                Settled::DeadLettered => return Ok((EventOutcome::Failed, None)),
                Settled::Superseded => {
                    superseded += 1;
                    if superseded > MAX_SUPERSEDED {
                        return Ok((EventOutcome::HandedToServe, None));
                    }
                    continue;
                }
                Settled::RetryLater(delay) | Settled::Deferred(delay) => delay,
                Settled::GrantPaused => {
                    let message = "Nylas rejected the grant; it is paused until re-authenticated";
                    return Ok((
                        EventOutcome::Retrying,
                        Some(InlineError::Auth(message.to_string())),
                    ));
                }
            };
            drop(running);
            if let Some(message) = auth {
                return Ok((EventOutcome::Retrying, Some(InlineError::Auth(message))));
            }
            failures += 1;
            if failures >= attempts {
                return Ok((EventOutcome::Retrying, None));
            }
            tokio::select! {
                _ = self.stop.cancelled() => {
                    return Ok((EventOutcome::Retrying, Some(InlineError::Interrupted)));
                }
                _ = tokio::time::sleep(delay) => {}
            }
        }
    }

    /// The write path with lease heartbeats.
    async fn sync(&self, job: &ClaimedJob) -> Result<SyncOutcome, SyncError> {
        let work = self.series.sync(&self.processor, job);
        tokio::pin!(work);
        let beat = (self.lease_for / 3).max(Duration::from_millis(100));
        let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
        loop {
            tokio::select! {
                result = &mut work => return result,
                _ = heartbeat.tick() => {
                    let now = self.clock.now();
                    match self.store.extend_lease(&job.lease, now, self.lease_for).await {
                        Ok(true) => {}
                        Ok(false) => tracing::warn!(event.id = %job.request.record_key, "The backfill lost a job's lease while it ran."),
                        Err(error) => tracing::warn!(error = %crate::cause::Chain(&error), "Could not extend a job's lease."),
                    }
                }
            }
        }
    }
}
