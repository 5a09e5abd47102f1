//! calsync mirrors calendar events into a CRM: one current record per meeting (however many
//! connected calendars hold a copy of it), nothing lost, nothing duplicated.
//!
//! The data flow (see `../shared/docs/architecture.md` for the full design):
//!
//! ```text
//! Nylas ──POST──► http: verify HMAC (raw bytes) → parse envelope → ingest (group commit) ──► 200
//!                                                         │  (committed before the answer)
//!  backfill / reconcile ──── list events ────────────────►│
//!                                                         ▼
//!          store: notification log · jobs keyed by event id · sync state · dead letters
//!                                                         │ claim (lease, one in flight per key)
//!                                                         ▼
//!  worker: a series master → list its occurrences, enqueue a job for each (never written);
//!          any other event: fetch if needed (Nylas) → version check → map → record the
//!          grant's copy → under the meeting's lock: resolve the meeting from its copies
//!          → hash check → CRM → state
//! ```
//!
//! `http` only accepts; `worker` only delivers. Neither imports the other; both depend on `store`.
//!
//! Modules:
//! - [`config`]: typed settings from TOML and environment, validated at start-up.
//! - [`http`]: the webhook edge (challenge, signature, envelope, ingest) and health endpoints.
//! - [`store`]: the durable store trait and its backends; group-commit ingest.
//! - [`worker`]: the job runner (leases, wake-ups), series expansion and the idempotent write
//!   path.
//! - [`nylas`]: the Nylas API client and lenient payload models.
//! - [`intake`]: a verified notification's interpretation into store work.
//! - [`mapping`]: the pure event → meeting record mapping.
//! - [`meeting`]: what counts as one meeting across grants' copies, and its state.
//! - [`policy`]: what reaches the CRM: privacy, relevance filters, calendar selection, rooms.
//! - [`record`]: the CRM meeting record and its content hash.
//! - [`crm`]: the CRM adapter trait and its implementations.
//! - [`outbound`]: the shared outbound HTTP client (no redirects) and capped body reading.
//! - [`retry`]: classification of outbound failures and backoff.
//! - [`cause`]: how errors are shown: the error and its causes, each once.
//! - [`clock`]: the time source (system clock, or tokio time in tests).
//! - [`telemetry`]: logging and metrics.
//! - [`triggers`]: the Nylas notification types calsync handles (a leaf vocabulary).
//! - [`backfill`]: `calsync backfill`: history from the Events API through the write path.
//! - [`reconcile`]: the periodic re-read of changed events inside `serve`.
//! - [`sweep`]: what backfill and reconciliation share: Nylas listing, window, series in
//!   listings, watermarks (below both; depends on neither).
//! - [`app`]: wiring of all of the above for `serve` and the other commands.
//! - [`commands`]: the operator commands other than `serve` (`dlq`, `replay`, `webhook`, `check`).
//! - [`demo`]: `calsync demo`: the real daemon syncing sample meetings, with no account.
//! - [`maintenance`]: notification-log pruning while serving.
//! - [`webhook_monitor`]: the periodic check of the Nylas webhooks' status while serving.
//! - [`periodic`]: the run-now-then-every-interval loop of the maintenance tasks.
//! - [`printable`]: outside text escaped (and cut) for terminals and text logs.
//! - [`version`]: the version and git commit of the build.
#![forbid(unsafe_code)]

pub mod app;
pub mod backfill;
pub mod cause;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crm;
pub mod demo;
pub mod http;
pub mod intake;
pub mod maintenance;
pub mod mapping;
pub mod meeting;
pub mod nylas;
pub mod outbound;
pub mod periodic;
pub mod policy;
pub mod printable;
pub mod reconcile;
pub mod record;
pub mod retry;
pub mod store;
pub mod sweep;
pub mod telemetry;
pub mod triggers;
pub mod version;
pub mod webhook_monitor;
pub mod worker;
