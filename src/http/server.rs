//! The HTTP server: an accept loop driving hyper's HTTP/1.1 connections, with the bounds
//! `axum::serve` lacks, so that no client can hold resources or the shutdown for ever.
//!
//! - **Head deadline.** A connection has `request_timeout` to send a request's head; an idle
//!   keep-alive connection is closed when that passes too (hyper's header read timeout).
//! - **Body deadline.** The notification endpoint reads a body within `request_timeout` (see
//!   [`super::inbound`]); a body announced but not sent is answered 408 and the connection
//!   closed.
//! - **Connection cap.** At most `max_connections` connections are served at once: at the cap
//!   the loop stops accepting, so new connections wait in the kernel's listen backlog (and are
//!   refused by the kernel when it is full) while the open ones keep being served.
//! - **Shutdown.** When `stop` is cancelled the listener is closed and every connection is asked
//!   to close after its current request (idle ones close at once); connections still open when
//!   `force` is cancelled are dropped, which closes them.
//!
//! Invariant: [`run`] returns promptly once `force` is cancelled (after `stop`), whatever the
//! clients do. Only HTTP/1.1 is served (Nylas and load balancers speak it; HTTP/2 is for a
//! proxy in front to terminate).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::telemetry::throttle::LogThrottle;

/// How long the loop waits after a failed accept (e.g. too many open files) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The bounds of the server (`server.request_timeout`, `server.max_connections`).
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    /// The longest a client may take to send a request's head (and, in the handler, its body).
    pub request_timeout: Duration,
    /// The most connections served at once.
    pub max_connections: usize,
}

/// When the server stops: `stop` starts a graceful shutdown, `force` closes what is left.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    /// Stop accepting; close each connection after its current request.
    pub stop: CancellationToken,
    /// Close every connection still open (cancel after `stop`).
    pub force: CancellationToken,
}

/// Serves `router` on `listener` until `shutdown.stop`, then closes the connections (forcibly
/// at `shutdown.force`); returns when every connection is closed. Failed accepts (a full file
/// table) are logged and retried.
pub async fn run(listener: TcpListener, router: Router, limits: ServerLimits, shutdown: Shutdown) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.request_timeout)
        .keep_alive(true);
    let accept_errors = LogThrottle::new(1, Duration::from_secs(10));
    let mut at_cap = false;
    loop {
        if permits.available_permits() == 0 && !at_cap {
            at_cap = true;
            tracing::warn!(
                max_connections = limits.max_connections,
                "Serving server.max_connections connections: new connections wait until one closes."
            );
        }
        let permit = tokio::select! {
            biased;
            () = shutdown.stop.cancelled() => break,
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        if permits.available_permits() > 0 {
            at_cap = false;
        }
        let stream = tokio::select! {
            biased;
            () = shutdown.stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    accept_failed(&error, &accept_errors, &shutdown.stop).await;
                    continue;
                }
            },
        };
        let connection = serve_connection(
            builder.clone(),
            stream,
            router.clone(),
            permit,
            shutdown.clone(),
        );
        connections.spawn(connection);
    }
    drop(listener);
    connections.close();
    let open = connections.len();
    if open > 0 {
        tracing::info!(
            connections = open,
            "Closing the HTTP connections after their current request."
        );
    }
    connections.wait().await;
}

/// Logs a failed accept (throttled) and waits a little, so a full file table does not spin.
async fn accept_failed(error: &std::io::Error, throttle: &LogThrottle, stop: &CancellationToken) {
    if let Some(suppressed) = throttle.admit(Instant::now()) {
        tracing::warn!(error = %error, suppressed, "Could not accept an HTTP connection.");
    }
    tokio::select! {
        () = stop.cancelled() => {}
        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
    }
}

/// Drives one connection until it closes, the graceful shutdown closes it, or `force` drops it.
async fn serve_connection(
    builder: http1::Builder,
    stream: TcpStream,
    router: Router,
    permit: OwnedSemaphorePermit,
    shutdown: Shutdown,
) {
    let _permit = permit;
    let service = TowerToHyperService::new(router);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = shutdown.stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            tokio::select! {
                result = connection.as_mut() => result,
                () = shutdown.force.cancelled() => {
                    tracing::debug!("Closed an HTTP connection still open at the shutdown deadline.");
                    return;
                }
            }
        }
    };
    if let Err(error) = result {
        // Header timeouts, resets and malformed requests: the client's business, not an alert.
        tracing::debug!(error = %crate::cause::Chain(&error), "An HTTP connection ended with an error.");
    }
}
