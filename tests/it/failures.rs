//! calsync under failure (issue 3, items 1–5 and 7), against fakes that can be told to fail:
//!
//! - [`schedule`]: retry schedules (persisted across a restart, per-event backoff, dead letter
//!   after `max_attempts`) and the CRM rate cap across all workers.
//! - [`outage`]: outages and throttles slow the whole target down instead of burning every
//!   job's attempts; one bad event is dead-lettered while others flow; `dlq retry` revives it.
//! - [`auth`]: rejected credentials are loud and make jobs wait; an expired grant pauses only
//!   that grant.
//! - [`store_trouble`]: a store that cannot commit (a full disk, a held lock) makes POSTs 503 and
//!   `/readyz` fail until it recovers, by itself.
//! - [`store_files`]: a database file deleted under the daemon is noticed and refused, loudly,
//!   and nothing acknowledged is lost.
//! - [`dlq_command`]: `calsync dlq list|retry` against a running `calsync serve`.
//!
//! Backoff and pauses run in paused tokio time (`start_paused`, the harness's tokio clock),
//! never with sleeps.

mod auth;
mod dlq_command;
mod outage;
mod schedule;
mod store_files;
mod store_trouble;
