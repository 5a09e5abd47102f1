//! The background tasks of `serve`: what runs beside the notification endpoint and the worker
//! pool, on a schedule rather than on a request or a job.
//!
//! - [`reconcile`]: every `[reconcile] interval`, re-read the events that changed since the last
//!   pass, so what notifications missed reaches the CRM within one interval.
//! - [`subscription_monitor`]: every few minutes, check the status of the webhook subscriptions
//!   that deliver event notifications (a `failed` one silently stops them all).
//! - [`pruning`]: every hour, delete logged notifications older than `store.keep_notifications`.
//! - [`periodic`]: the run-now-then-every-interval loop the monitor and pruning share, and the
//!   release of a task's store lock when it stops.
//!
//! Invariants: each task only reads Nylas and writes the store (jobs, watermarks, gauges, the
//! notification log); none writes to the CRM or answers a request, so a slow or failing task
//! never delays ingest or the write path. Tasks that must run on one replica at a time hold a
//! named store lock (reconciliation, the subscription monitor) and release it when they stop
//! cleanly; a failed run is logged and retried at the next tick, never fatal. This module
//! depends on the store, the Nylas client and `sweep`, never on `http`, `worker` or `app`.

pub mod periodic;
pub mod pruning;
pub mod reconcile;
pub mod subscription_monitor;
