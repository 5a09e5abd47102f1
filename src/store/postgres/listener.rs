//! Wake-ups across replicas: a `LISTEN` on one dedicated connection per store handle, feeding
//! the handle's local [`Notify`], so a job committed by any replica wakes the workers of all.
//!
//! Invariants:
//! - Writers send `NOTIFY` inside the transaction that creates or releases work (PostgreSQL
//!   delivers it at commit, and not at all on rollback), so a wake-up never announces work that
//!   is not visible yet.
//! - The listener is subscribed before [`Listener::start`] returns. When its connection is lost
//!   it reconnects by itself (with a capped backoff) and, once subscribed again, signals the
//!   local waiters once: notifications sent while it was away are lost, so the workers look.
//!   Workers also poll, so a listener that cannot reconnect delays work but loses none.
//! - The task stops when the store handle is closed or its last clone dropped; it holds no
//!   reference to the store, only to the [`Notify`] and its own one-connection pool.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPool, PgPoolOptions};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

/// The channel every replica listens on and notifies after committing new or released work.
pub(super) const CHANNEL: &str = "calsync_jobs";
/// The `application_name` of the listening connection (visible in `pg_stat_activity`).
pub const LISTENER_APPLICATION_NAME: &str = "calsync-listener";
/// Backoff between reconnection attempts: starts here, doubles, …
const RECONNECT_INITIAL: Duration = Duration::from_millis(100);
/// … up to this.
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// The running listener of one store handle.
pub(super) struct Listener {
    stop: CancellationToken,
    /// Cancels the task when the last store clone (which owns this listener) is dropped.
    _guard: DropGuard,
    task: Mutex<Option<JoinHandle<()>>>,
    pool: PgPool,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener")
            .field("channel", &CHANNEL)
            .field("stopped", &self.stop.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Listener {
    /// Connects, subscribes, and starts the task that turns notifications into local wake-ups.
    pub(super) async fn start(
        options: PgConnectOptions,
        wakeups: Arc<Notify>,
    ) -> Result<Listener, sqlx::Error> {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_lazy_with(options.application_name(LISTENER_APPLICATION_NAME));
        let listener = subscribe(&pool).await?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(listen(pool.clone(), listener, wakeups, stop.clone()));
        Ok(Listener {
            _guard: stop.clone().drop_guard(),
            stop,
            task: Mutex::new(Some(task)),
            pool,
        })
    }

    /// Stops the task, waits for it, and closes the listening connection.
    pub(super) async fn stop(&self) {
        self.stop.cancel();
        let task = self
            .task
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::warn!(error = %crate::cause::Chain(&error), "The store's listener task ended abnormally.");
        }
        self.pool.close().await;
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// The task: forward notifications until stopped; on failure, resubscribe with backoff.
async fn listen(
    pool: PgPool,
    mut listener: PgListener,
    wakeups: Arc<Notify>,
    stop: CancellationToken,
) {
    loop {
        let failure = forward(&mut listener, &wakeups, &stop).await;
        drop(listener);
        let Some(error) = failure else {
            return;
        };
        tracing::warn!(error = %crate::cause::Chain(&error), "The store's LISTEN connection failed; reconnecting.");
        let Some(fresh) = resubscribe(&pool, &stop).await else {
            return;
        };
        listener = fresh;
        tracing::info!("The store's LISTEN connection is back.");
        // Notifications sent while disconnected are lost: let the workers look.
        wakeups.notify_waiters();
    }
}

/// Forwards notifications until stopped (`None`) or the listener fails (the error).
async fn forward(
    listener: &mut PgListener,
    wakeups: &Notify,
    stop: &CancellationToken,
) -> Option<sqlx::Error> {
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return None,
            received = listener.try_recv() => received,
        };
        match received {
            // A notification, or a lost connection the listener has re-established (anything
            // sent meanwhile is lost): either way there may be work.
            Ok(_) => wakeups.notify_waiters(),
            Err(error) => return Some(error),
        }
    }
}

/// Subscribes again, backing off between attempts; `None` when stopped first.
async fn resubscribe(pool: &PgPool, stop: &CancellationToken) -> Option<PgListener> {
    let mut delay = RECONNECT_INITIAL;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return None,
            _ = tokio::time::sleep(delay) => {}
        }
        let attempt = tokio::select! {
            _ = stop.cancelled() => return None,
            attempt = subscribe(pool) => attempt,
        };
        match attempt {
            Ok(listener) => return Some(listener),
            Err(error) => {
                tracing::debug!(error = %crate::cause::Chain(&error), "Could not resubscribe to the store's channel yet.");
                delay = (delay * 2).min(RECONNECT_MAX);
            }
        }
    }
}
