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
//! - [`http`]: the HTTP edge: the notification endpoint (challenge, signature, envelope, ingest)
//!   and the health endpoints.
//! - [`store`]: the durable store trait and its backends; group-commit ingest.
//! - [`worker`]: the job runner (leases, wake-ups), series expansion, the idempotent write path
//!   and the circuit breaker over the upstreams.
//! - [`nylas`]: the Nylas API client (events, grants, webhook subscriptions), lenient payload
//!   models and notification interpretation.
//! - [`mapping`]: the pure event → meeting record mapping.
//! - [`meeting`]: what counts as one meeting across grants' copies, and its state.
//! - [`policy`]: what reaches the CRM: privacy, relevance filters, calendar selection, rooms.
//! - [`record`]: the CRM meeting record and its content hash.
//! - [`ids`]: the identifier types (`EventId`, `GrantId`, `NotificationId`, `CrmRecordId`,
//!   `TargetId`), so one id cannot be passed for another.
//! - [`crm`]: the CRM adapter trait and its implementations.
//! - [`outbound`]: the shared outbound HTTP client (no redirects) and capped body reading.
//! - [`retry`]: classification of outbound failures and backoff.
//! - [`cause`]: how errors are shown: the error and its causes, each once.
//! - [`clock`]: the time source (system clock, or tokio time in tests).
//! - [`telemetry`]: logging and metrics.
//! - [`triggers`]: the Nylas notification types calsync handles (a leaf vocabulary).
//! - [`backfill`]: `calsync backfill`: history from the Events API through the write path.
//! - [`sweep`]: what backfill and reconciliation share: Nylas listing, window, series in
//!   listings, watermarks (below both; depends on neither).
//! - [`app`]: wiring of all of the above for `serve` and the other commands.
//! - [`commands`]: the operator commands other than `serve` (`dlq`, `replay`, `webhook`, `check`).
//! - [`demo`]: `calsync demo`: the real daemon syncing sample meetings, with no account.
//! - [`background`]: the background tasks of `serve`: reconciliation (the periodic re-read of
//!   changed events), the webhook-subscription monitor, notification-log pruning, and their
//!   periodic loop.
//! - [`printable`]: outside text escaped (and cut) for terminals and text logs.
//! - [`version`]: the version and git commit of the build.
//!
//! # Glossary
//!
//! One meaning per word in Rust names (types, functions, modules, fields). What users see
//! (configuration keys, CLI commands, metric and label names, log fields, HTTP paths, database
//! columns) keeps its established wording, noted below where it differs.
//!
//! - **notification endpoint, *inbound***: The HTTP route Nylas sends notifications to
//!   (`http::inbound`; the path is `server.webhook_path`).
//! - **notification**: One Nylas message posted to the notification endpoint (a trigger type and an
//!   object); identified by its notification id.
//! - **webhook subscription, *subscription***: Nylas's object that delivers notifications to a URL
//!   (`nylas::client::Subscription`, `commands::subscriptions`,
//!   `background::subscription_monitor`). Users manage it with `calsync webhook …`; its signing
//!   secret is the *webhook secret* (`nylas.webhook_secrets`); its status is the
//!   `calsync_webhooks` metric.
//! - **webhook**: Not used alone in Rust names; only in the user-facing names above.
//! - **health**: The HTTP health endpoints only (`/healthz`, `/readyz`: `http::health`,
//!   `http::readiness`). A *healthy answer* is an upstream answer that proves it is up.
//! - **upstream**: A remote service calsync calls: the CRM API or the Nylas API
//!   (`worker::breaker::Upstream`, `retry::gate::UpstreamGate`). The metrics label it `target`
//!   (`calsync_target_paused{target}`).
//! - **breaker**: The worker's per-upstream circuit breaker: tells an upstream's outage from one
//!   event's failure, pauses and probes the upstream (`worker::breaker`).
//! - **target**: The configured CRM destination whose identity (`CrmAdapter::target`, e.g.
//!   `hubspot:<base URL>`) scopes the sync state; not the CRM API as a service (that is the
//!   upstream).
//! - **throttled**: An upstream asked calsync to slow down (a 429 or a vendor's throttle:
//!   `breaker::Signal::Throttled`).
//! - **held back**: calsync did not send a request because its upstream is paused
//!   (`CrmError::HeldBack`, `NylasError::HeldBack`, `Signal::HeldBack`).
//! - **answer**: What an upstream sent back to calsync (`crm::transport::Answer`, the Nylas
//!   client's answer).
//! - **reply**: What calsync sends back to Nylas at the notification endpoint (`http::inbound`'s
//!   `Reply`).
//! - **event id**: The Nylas event id ([`ids::EventId`]), the key of a job, of the sync state and
//!   of the CRM record (`MeetingRecord::event_id`). The store's types still call it `record_key`
//!   (its database column name, until the store seams take the id types); the CRM record
//!   serializes it as `external_event_id` (the record contract).
//! - **target id**: see *target* ([`ids::TargetId`]).
#![forbid(unsafe_code)]

pub mod app;
pub mod backfill;
pub mod background;
pub mod cause;
pub mod clock;
pub mod commands;
pub mod config;
pub mod crm;
pub mod demo;
pub mod http;
pub mod ids;
pub mod mapping;
pub mod meeting;
pub mod nylas;
pub mod outbound;
pub mod policy;
pub mod printable;
pub mod record;
pub mod retry;
// Temporary: removed when the store split lands (its public items get their docs there, and
// its module docs stop linking to private items).
#[allow(missing_docs, rustdoc::private_intra_doc_links)]
pub mod store;
pub mod sweep;
pub mod telemetry;
pub mod triggers;
pub mod version;
pub mod worker;
