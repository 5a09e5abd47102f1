//! Health endpoints: `/healthz` says the process is up; `/readyz` says it can accept
//! notifications (the store answers and commits, see [`super::readiness`], and the process is
//! not draining); `/metrics` renders the Prometheus text, refreshing the store-wide gauges (jobs,
//! paused grants) first on the replica that exports them.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use super::EdgeState;
use crate::telemetry::store_gauges;

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

/// `GET /metrics`: Prometheus text format 0.0.4; the store-wide gauges only on the replica that
/// exports them ([`store_gauges`]).
pub async fn metrics(State(state): State<EdgeState>) -> impl IntoResponse {
    let now = state.clock.now();
    let store_wide =
        store_gauges::refresh(state.store.as_ref(), &state.owner, &state.metrics, now).await;
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render_scrape(store_wide),
    )
}
