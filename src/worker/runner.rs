//! The worker pool.
//!
//! One loop claims due jobs from the store — never more than there are free worker slots (a
//! semaphore) — and runs each in its own task. Between claims it waits for whichever comes first:
//! a wake-up from the store (armed *before* claiming, so a job committed during the claim is not
//! missed), a worker slot freeing up, the next scheduled retry or lease expiry, the poll interval
//! (work enqueued by other processes), or shutdown. While a job runs, its lease is extended every
//! third of its length, so a long CRM call does not let another worker take the same key; a
//! crashed process's leases simply expire and its jobs are claimed again. Each running job is
//! counted in the CRM's batch gate (`crate::crm::batch`) from its claim until it is settled, so a
//! batching CRM sends a batch as soon as every running job has joined it.
//!
//! Upstream outages ([`super::breaker`]): while the CRM or Nylas is paused (an outage back-off, a
//! throttle, rejected credentials) the loop claims nothing and waits for the pause to end,
//! instead of claiming jobs just to fail them; while an upstream recovers from a back-off, it runs
//! one job at a time (a probe) until the upstream answers healthily.
//!
//! Shutdown: stop claiming, let running jobs finish until the deadline, then cancel the rest and
//! release their leases so they are due again at once (nothing acknowledged is lost: the jobs
//! stay in the store).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::store::{ClaimedJob, Store, StoreError};

use super::breaker::Admission;
use super::process::Processor;
use super::series::Series;
use super::settle::{RetryPolicy, Settled};

/// The worker pool's settings.
#[derive(Debug, Clone)]
pub struct RunnerConfig {
    /// Jobs processed concurrently (`sync.workers`); more while the CRM batches its writes
    /// ([`Runner::pool_size`]).
    pub workers: usize,
    /// How long a claim holds a job before another worker may take it.
    pub lease_for: Duration,
    /// The longest wait between claims when nothing signals new work.
    pub poll_interval: Duration,
    /// How failed jobs are retried and when they are dead-lettered.
    pub retry: RetryPolicy,
    /// This process's name in leases.
    pub owner: String,
}

/// The worker pool.
#[derive(Clone)]
pub struct Runner {
    processor: Arc<Processor>,
    series: Series,
    config: Arc<RunnerConfig>,
}

impl Runner {
    /// A pool running jobs with `processor`, series masters expanded by `series`.
    pub fn new(processor: Arc<Processor>, series: Series, config: RunnerConfig) -> Self {
        Runner {
            processor,
            series,
            config: Arc::new(config),
        }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.processor.store
    }

    /// How many jobs run at once now: `workers`, or the CRM's batch size when that is larger (a
    /// batch fills only with that many jobs in flight). Read before every claim, so the pool
    /// shrinks back when the CRM stops batching (HubSpot's event id property turns out not to
    /// have unique values).
    pub fn pool_size(&self) -> usize {
        self.config
            .workers
            .max(self.processor.crm.batch_capacity())
            .max(1)
    }

    /// Runs until `shutdown` is cancelled, then drains for at most `drain_for`.
    pub async fn run(&self, shutdown: CancellationToken, drain_for: Duration) {
        let slots = Arc::new(Semaphore::new(self.pool_size()));
        let abort = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let wakeups = self.store().wakeups();
        tracing::info!(workers = self.pool_size(), "Workers started.");
        while !shutdown.is_cancelled() {
            let notified = wakeups.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            while tasks.try_join_next().is_some() {}

            // The pool may have shrunk since the slots were made (see `pool_size`).
            let free = slots
                .available_permits()
                .min(self.pool_size().saturating_sub(tasks.len()));
            let admission = self.processor.breaker.admission();
            let limit = match admission {
                Admission::Open => free,
                Admission::Probe if tasks.is_empty() => free.min(1),
                Admission::Probe | Admission::Hold(_) => 0,
            };
            let mut claim_failed = false;
            if limit > 0 {
                match self.claim(limit).await {
                    Ok(jobs) => {
                        let claimed = jobs.len();
                        self.spawn_jobs(jobs, &slots, &abort, &mut tasks).await;
                        if claimed == free {
                            // Every slot is busy; more work may be due: wait for a slot.
                            tokio::select! {
                                _ = shutdown.cancelled() => break,
                                _ = tasks.join_next() => continue,
                            }
                        }
                    }
                    Err(error) => {
                        claim_failed = true;
                        tracing::error!(error = %crate::cause::Chain(&error), "Could not claim jobs; retrying shortly.");
                    }
                }
            }
            let wait = match admission {
                _ if claim_failed => self.config.poll_interval,
                Admission::Hold(pause) => pause
                    .min(self.config.poll_interval)
                    .max(Duration::from_millis(10)),
                // Nothing may be claimed until a running job ends, which wakes the loop.
                _ if limit == 0 && !tasks.is_empty() => self.config.poll_interval,
                Admission::Open | Admission::Probe => self.next_wait().await,
            };
            tokio::select! {
                _ = shutdown.cancelled() => break,
                _ = &mut notified => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
        self.drain(tasks, abort, drain_for).await;
    }

    /// Runs each claimed job in its own task, holding a worker slot.
    async fn spawn_jobs(
        &self,
        jobs: Vec<ClaimedJob>,
        slots: &Arc<Semaphore>,
        abort: &CancellationToken,
        tasks: &mut JoinSet<()>,
    ) {
        for job in jobs {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                break;
            };
            let runner = self.clone();
            let abort = abort.clone();
            let running = self.processor.job_started();
            tasks.spawn(async move {
                runner.run_job(job, abort).await;
                drop((running, permit));
            });
        }
    }

    /// Claims up to `limit` due jobs.
    async fn claim(&self, limit: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        let now = self.processor.clock.now();
        self.store()
            .claim(&self.config.owner, now, self.config.lease_for, limit)
            .await
    }

    /// How long to wait before claiming again when nothing signals: until the next scheduled
    /// job, at most the poll interval, at least a few milliseconds.
    async fn next_wait(&self) -> Duration {
        let until_due = match self.store().next_due_at().await {
            Ok(Some(at)) => self.processor.clock.until(at),
            Ok(None) | Err(_) => self.config.poll_interval,
        };
        until_due
            .min(self.config.poll_interval)
            .max(Duration::from_millis(10))
    }

    /// Lets running jobs finish until the deadline, then cancels them (releasing their leases).
    async fn drain(&self, mut tasks: JoinSet<()>, abort: CancellationToken, drain_for: Duration) {
        if !tasks.is_empty() {
            tracing::info!(in_flight = tasks.len(), "Draining in-flight jobs.");
        }
        let finished = tokio::time::timeout(drain_for, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tracing::warn!(
                in_flight = tasks.len(),
                "Shutdown deadline reached; releasing the leases of unfinished jobs."
            );
            abort.cancel();
            while tasks.join_next().await.is_some() {}
        }
        tracing::info!("Workers stopped.");
    }

    /// Runs one claimed job: the write path with lease heartbeats, then settles it — or, when
    /// aborted, releases its lease.
    async fn run_job(&self, job: ClaimedJob, abort: CancellationToken) {
        let span = super::process::job_span(&job);
        async {
            let store = self.store();
            let clock = &self.processor.clock;
            let lease_for = self.config.lease_for;
            let work = self.series.sync(&self.processor, &job);
            tokio::pin!(work);
            let beat = (lease_for / 3).max(Duration::from_millis(100));
            let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + beat, beat);
            let result = loop {
                tokio::select! {
                    result = &mut work => break Some(result),
                    _ = heartbeat.tick() => {
                        match store.extend_lease(&job.lease, clock.now(), lease_for).await {
                            Ok(true) => {}
                            Ok(false) => tracing::warn!("The job's lease was lost while it ran."),
                            Err(error) => tracing::warn!(error = %crate::cause::Chain(&error), "Could not extend the job's lease."),
                        }
                    }
                    _ = abort.cancelled() => break None,
                }
            };
            let settled = match result {
                Some(result) => self
                    .processor
                    .settle(&job, result, &self.config.retry)
                    .await
                    .map(Some),
                None => store.release(&job.lease, clock.now()).await.map(|()| None),
            };
            if let Err(error) = settled {
                tracing::error!(
                    error = %crate::cause::Chain(&error),
                    "Could not record the job's result; it runs again when its lease expires."
                );
            }
        }
        .instrument(span)
        .await
    }

    /// Runs every job that is due now, one at a time, until none is left or an upstream is paused
    /// (see the module docs); returns what happened to each.
    /// For tests and one-shot commands: deterministic, no background tasks.
    pub async fn run_until_idle(&self) -> Result<Vec<Settled>, StoreError> {
        let mut settled = Vec::new();
        loop {
            if let Admission::Hold(_) = self.processor.breaker.admission() {
                return Ok(settled);
            }
            let jobs = self.claim(1).await?;
            let Some(job) = jobs.into_iter().next() else {
                return Ok(settled);
            };
            let span = super::process::job_span(&job);
            let _running = self.processor.job_started();
            let result = self
                .series
                .sync(&self.processor, &job)
                .instrument(span.clone())
                .await;
            settled.push(
                self.processor
                    .settle(&job, result, &self.config.retry)
                    .instrument(span)
                    .await?,
            );
        }
    }

    /// Like [`Runner::run_until_idle`], but in rounds: each round claims as many due jobs as
    /// the pool runs at once and runs them concurrently (so a batching CRM sees them together),
    /// settling each; returns what happened to each job, round by round, in claim order.
    pub async fn run_rounds_until_idle(&self) -> Result<Vec<Settled>, StoreError> {
        let mut settled = Vec::new();
        loop {
            if let Admission::Hold(_) = self.processor.breaker.admission() {
                return Ok(settled);
            }
            let jobs = self.claim(self.pool_size()).await?;
            if jobs.is_empty() {
                return Ok(settled);
            }
            let mut running = Vec::with_capacity(jobs.len());
            for job in jobs {
                let runner = self.clone();
                let job_running = self.processor.job_started();
                running.push(tokio::spawn(async move {
                    let _running = job_running;
                    let span = super::process::job_span(&job);
                    let result = runner
                        .series
                        .sync(&runner.processor, &job)
                        .instrument(span.clone())
                        .await;
                    let policy = &runner.config.retry;
                    runner
                        .processor
                        .settle(&job, result, policy)
                        .instrument(span)
                        .await
                }));
            }
            for job in running {
                match job.await {
                    Ok(outcome) => settled.push(outcome?),
                    Err(panicked) => std::panic::resume_unwind(panicked.into_panic()),
                }
            }
        }
    }
}
