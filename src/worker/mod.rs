//! The worker: claims jobs from the store and runs the idempotent write path.
//!
//! - [`runner`]: the pool. Claims jobs with a lease (one in flight per record key), caps
//!   concurrency with a semaphore, wakes on new work (notify-or-poll, never busy polling),
//!   keeps leases alive while a job runs, and drains on shutdown.
//! - [`series`]: runs each claimed job, upstream of `process`: a series master is expanded into
//!   ordinary jobs for its occurrences (and never written); everything else goes to `process`.
//! - [`process`]: the write path of one job: fetch the event if needed → version check → map →
//!   record the grant's copy of the meeting → under the meeting's lock, resolve the meeting from
//!   all its copies → hash check → CRM adapter → sync state. Safe to run any number of times.
//! - [`settle`]: records a job's result in the store: done, retry later (persisted schedule),
//!   deferred while its upstream is down, grant paused, or dead letter.
//! - [`breaker`]: the circuit breaker over the upstreams (the CRM, Nylas): tells an outage from one
//!   bad event, backs a failing upstream off, and tells the runner when to hold back or probe.

pub mod breaker;
pub mod process;
pub mod runner;
pub mod series;
pub mod settle;

pub use process::{Processor, SyncError, SyncOutcome};
pub use runner::Runner;
pub use series::{Series, SeriesSettings};
