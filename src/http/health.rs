//! Health endpoints: `/healthz` says the process is up; `/readyz` says it can accept
//! notifications (the store answers and commits, see [`super::readiness`], and the process is
//! not draining); `/metrics` renders the Prometheus text, refreshing the job and paused-grant
//! gauges from the store first.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::EdgeState;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the store answers (and commits, after a failed commit) and the
/// process is not shutting down.
pub async fn readyz(State(state): State<EdgeState>) -> (StatusCode, String) {
    if state.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    }
    match state.commits.probe(state.store.as_ref(), state.clock).await {
        Ok(()) => (StatusCode::OK, "ready".into()),
        Err(error) => {
            tracing::warn!(error = %crate::cause::Chain(&error), "Readiness check failed: the store is unavailable.");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable".into())
        }
    }
}

/// `GET /metrics`: Prometheus text format 0.0.4.
pub async fn metrics(State(state): State<EdgeState>) -> impl IntoResponse {
    let now = state.clock.now();
    match state.store.job_stats(now).await {
        Ok(stats) => state.metrics.set_job_stats(&stats, now),
        Err(error) => {
            tracing::warn!(error = %crate::cause::Chain(&error), "Could not read job counts for /metrics.");
        }
    }
    match state.store.paused_grants().await {
        Ok(count) => state.metrics.set_grants_paused(count),
        Err(error) => {
            tracing::warn!(error = %crate::cause::Chain(&error), "Could not count paused grants for /metrics.");
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
