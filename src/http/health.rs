//! Health endpoints: `/healthz` says the process is up; `/readyz` says it can accept
//! notifications (the store answers and the process is not draining).

use axum::extract::State;
use axum::http::StatusCode;

use super::EdgeState;

/// `GET /healthz`: 200 while the process runs.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`: 200 when the store is reachable and the process is not shutting down.
pub async fn readyz(State(state): State<EdgeState>) -> (StatusCode, String) {
    if state.draining.is_cancelled() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready".into()),
        Err(error) => {
            tracing::warn!(error = %error, "Readiness check failed: the store is unreachable.");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable".into())
        }
    }
}
