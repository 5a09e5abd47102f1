//! The reference handler: the ceiling calsync's edge is compared with. An axum server that reads
//! the body, verifies the Nylas HMAC with calsync's own [`verify`] (the same code, the same
//! bounds), and answers 200 — nothing parsed, nothing stored, nothing logged. It runs in its own
//! process, on the same kind of runtime as `calsync serve`, so both targets are measured alike.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use calsync::http::verify;
use secrecy::SecretString;

use super::corpus::{SECRET, WEBHOOK_PATH};

/// calsync's default `server.max_body_bytes`.
const MAX_BODY_BYTES: usize = 4 << 20;

/// Serves the reference handler on `listen` until the process is killed.
pub fn serve(listen: std::net::SocketAddr) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let secrets: Arc<[SecretString]> = Arc::from(vec![SecretString::from(SECRET)]);
        let router = Router::new()
            .route(WEBHOOK_PATH, post(receive))
            .with_state(secrets);
        let listener = tokio::net::TcpListener::bind(listen).await?;
        axum::serve(listener, router).await?;
        Ok(())
    })
}

async fn receive(
    State(secrets): State<Arc<[SecretString]>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    match verify::verify(&headers, &body, &secrets, MAX_BODY_BYTES) {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::UNAUTHORIZED,
    }
}
