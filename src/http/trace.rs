//! A span per HTTP request: `http_request` with `http.method`, `http.path` (the route pattern, so
//! ids and query strings never reach the logs), and, once answered, `http.status` and
//! `latency_ms` (recorded only when this middleware logs the answer itself). Every line a
//! handler logs carries the method and path; one line is logged when the answer is sent: a
//! warning for 5xx, info for 4xx (at most a few per second: a scanner's 404s must not flood the
//! log; each line counts the ones suppressed before it), debug otherwise (probes of `/healthz`,
//! `/readyz`, `/metrics` would flood the logs) — unless the handler marked the response
//! [`Logged`] (the notification endpoint logs one line per notification itself).
//!
//! Invariant: nothing from the request but its method and route is recorded — never headers
//! (the signature, authorization), the query (the challenge) or the body.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing::field::Empty;

use crate::telemetry::throttle::LogThrottle;

/// A response extension: the handler already logged this answer; the span logs no second line.
#[derive(Debug, Clone, Copy)]
pub struct Logged;

/// The label of a request that matched no route (its raw path is not logged: it is arbitrary
/// client input).
const UNMATCHED: &str = "(no route)";

/// Middleware: runs the request inside its span and logs its answer (client errors through
/// `throttle`).
pub async fn request_span(
    State(throttle): State<Arc<LogThrottle>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED, MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!(
        "http_request",
        http.method = %request.method(),
        http.path = %path,
        http.status = Empty,
        latency_ms = Empty,
    );
    // Latency for the log line only (a measurement, not a "when" decision: see `crate::clock`).
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    if response.extensions().get::<Logged>().is_some() {
        // Nothing more is logged in the span: recording its last fields would only cost the
        // formatter a re-serialisation of them (twice per notification).
        return response;
    }
    let status = response.status().as_u16();
    let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    span.record("http.status", status);
    span.record("latency_ms", latency_ms);
    let _entered = span.enter();
    if status >= 500 {
        tracing::warn!("Answered an HTTP request with a server error.");
    } else if status >= 400 {
        if let Some(suppressed) = throttle.admit(Instant::now()) {
            tracing::info!(suppressed, "Answered an HTTP request with a client error.");
        }
    } else {
        tracing::debug!("Answered an HTTP request.");
    }
    response
}
