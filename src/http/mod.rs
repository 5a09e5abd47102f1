//! The HTTP edge: the notification endpoint ([`inbound`], the contract of `architecture.md`) and
//! the health endpoints ([`health`]).
//!
//! The edge only accepts: it verifies, parses, interprets and hands the notification to the
//! group-commit [`Ingestor`]; it answers 200 only after the store committed it (invariant 1).
//! It never talks to Nylas or the CRM and never imports the worker.

pub mod body;
pub mod health;
pub mod inbound;
pub mod limits;
pub mod readiness;
pub mod server;
pub mod trace;
pub mod verify;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::store::{Ingestor, Store};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::throttle::LogThrottle;

/// What the handlers share.
#[derive(Clone)]
pub struct EdgeState {
    /// The group-commit writer notifications are handed to.
    pub ingest: Ingestor,
    /// The store (for readiness probes).
    pub store: Arc<dyn Store>,
    /// The configured webhook secrets; empty means POSTs answer 503.
    pub secrets: Arc<[SecretString]>,
    /// `server.max_body_bytes`.
    pub max_body_bytes: usize,
    /// How long a client may take to send a body (`server.request_timeout`).
    pub request_timeout: Duration,
    /// The time source (received times, readiness probes).
    pub clock: Clock,
    /// Cancelled when the process starts draining: POSTs and `/readyz` answer 503.
    pub draining: CancellationToken,
    /// Where the edge counts notifications and latencies.
    pub metrics: Arc<Metrics>,
    /// Whether the store commits (store trouble makes `/readyz` fail until it recovers).
    pub commits: Arc<readiness::CommitHealth>,
    /// Throttles the log lines of rejected unauthenticated requests.
    pub rejections: Arc<LogThrottle>,
    /// This process's name in store locks (the store-wide gauges' exporter lock).
    pub owner: Arc<str>,
}

/// The router: `GET|POST {webhook_path}`, `GET /healthz`, `GET /readyz`, `GET /metrics`; every
/// request runs in its own span ([`trace::request_span`]).
pub fn router(state: EdgeState, webhook_path: &str) -> Router {
    let client_errors = Arc::new(LogThrottle::rejections());
    Router::new()
        .route(webhook_path, get(inbound::challenge).post(inbound::receive))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(middleware::from_fn_with_state(
            client_errors,
            trace::request_span,
        ))
        .with_state(state)
}
