//! Serving a demo stand-in (the sample calendar, the demo CRM) on a loopback port for as long as
//! its handle lives.
//!
//! Invariant: the server listens on `127.0.0.1:0` only (nothing outside this machine can reach
//! it) and stops when its [`Served`] handle is dropped.

use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::{CancellationToken, DropGuard};

/// A running loopback server; dropping it stops the server.
pub struct Served {
    /// Where it listens.
    pub address: SocketAddr,
    _stop: DropGuard,
}

impl Served {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }
}

/// Binds `127.0.0.1:0` and serves `router` there until the handle is dropped.
pub async fn serve(router: Router) -> std::io::Result<Served> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let stop = CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stopped.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::warn!(error = %error, "A demo loopback server stopped.");
        }
    });
    Ok(Served {
        address,
        _stop: stop.drop_guard(),
    })
}

/// Locks a stand-in's state (a panic while it was held does not make it unusable: every
/// change is one assignment).
pub fn lock<T>(state: &Mutex<T>) -> MutexGuard<'_, T> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}
