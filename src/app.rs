//! Wiring: builds the store, clients, adapter and worker pool from [`Settings`], and runs the
//! daemon (edge, workers, and the background tasks of [`crate::background`]: reconciliation,
//! the webhook-subscription monitor, pruning).
//!
//! `App` is not a service locator: it builds the shared [`Components`] once and hands each
//! caller an explicit struct of what it uses: [`Components`] itself, or a narrower one
//! ([`ReplayDeps`], `BackfillDeps`, the reconciler's and the background tasks' own). No function
//! takes `&App`.
//!
//! The caller owns the listener and the shutdown signal ([`App::serve`]), so tests bind
//! `127.0.0.1:0` and stop the daemon at will. Shutdown order keeps invariant 1: the edge starts
//! answering 503 (and `/readyz` fails) → workers stop claiming and drain until the deadline →
//! the HTTP server finishes in-flight requests, and closes connections still open at the
//! deadline (`server.shutdown_timeout` after the signal) → the periodic tasks release their
//! store locks (`reconcile`, `webhook-monitor`, `store-gauges`), so a restarted process takes
//! them at once → the ingest writer flushes what was accepted.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::background::pruning::{self, Pruner};
use crate::background::subscription_monitor::{self, SubscriptionMonitor};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crm::CrmError;
use crate::http::server::{self, ServerLimits};
use crate::http::{self, EdgeState};
use crate::retry::Backoff;
use crate::store::{self, Ingestor, QueuePolicy, Store, StoreError};
use crate::telemetry::store_gauges;
use crate::telemetry::throttle::LogThrottle;
use crate::worker::runner::RunnerConfig;
use crate::worker::settle::RetryPolicy;
use crate::worker::{Runner, Series, SeriesSettings};

mod components;
mod deps;

pub use components::Components;
pub use deps::ReplayDeps;

/// The longest wait between claims without a wake-up (work from other processes).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The most notifications committed in one ingest transaction.
const MAX_INGEST_BATCH: usize = 512;

/// The retry policy of `[sync]`.
pub fn retry_policy(settings: &Settings) -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff {
            initial: settings.sync.retry_initial,
            max: settings.sync.retry_max,
        },
        max_attempts: settings.sync.max_attempts,
    }
}

/// The HTTP client every outbound call shares (one connection pool, calsync's user agent, no
/// redirects followed: see [`crate::outbound`]).
pub fn http_client() -> Result<reqwest::Client, AppError> {
    crate::outbound::client().map_err(AppError::HttpClient)
}

/// Stops the HTTP server: no new connections, each open one closed after its current request,
/// and those still open at `force_at` closed at once.
async fn stop_server(
    mut server: tokio::task::JoinHandle<()>,
    closing: &server::Shutdown,
    force_at: tokio::time::Instant,
) {
    closing.stop.cancel();
    if tokio::time::timeout_at(force_at, &mut server)
        .await
        .is_err()
    {
        tracing::info!("Closing the HTTP connections still open at server.shutdown_timeout.");
        closing.force.cancel();
        let _ = server.await;
    }
}

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The store could not be opened or migrated.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The configured CRM adapter could not be built.
    #[error("the CRM adapter cannot be built")]
    Crm(#[from] CrmError),
    /// The shared outbound HTTP client could not be built.
    #[error("the HTTP client cannot be built")]
    HttpClient(#[source] reqwest::Error),
    /// The HTTP server failed while serving.
    #[error("the HTTP server failed")]
    Server(#[source] std::io::Error),
}

/// The daemon's wiring: the settings and the [`Components`] built once from them; it builds the
/// worker pool, the router and the background tasks, and runs `serve`.
pub struct App {
    settings: Settings,
    parts: Components,
}

impl App {
    /// Opens the store (running migrations) and builds the clients.
    pub async fn build(settings: Settings, clock: Clock) -> Result<App, AppError> {
        let store =
            store::open_with(settings.store.url.expose_secret(), queue_policy(&settings)).await?;
        Self::build_with_store(settings, clock, store)
    }

    /// Builds the clients around a store that is already open (`store.url` is not used): for
    /// tests that wrap the store, e.g. to inject failures.
    pub fn build_with_store(
        settings: Settings,
        clock: Clock,
        store: Arc<dyn Store>,
    ) -> Result<App, AppError> {
        let parts = Components::build(&settings, clock, store)?;
        Ok(App { settings, parts })
    }

    /// The shared components, handed out as one explicit struct (cheap clones of shared
    /// handles); commands and tests take what they use from it, never the `App`.
    pub fn components(&self) -> Components {
        self.parts.clone()
    }

    /// What runs each job ahead of the write path: series masters are expanded, never written.
    pub fn series(&self) -> Series {
        Series::new(
            self.parts.nylas.clone(),
            SeriesSettings {
                horizon: self.settings.sync.series_horizon,
                reach_back: Duration::from_secs(
                    u64::from(self.settings.reconcile.window_days.back) * 86_400,
                ),
                fetch: self.settings.nylas.fetch,
            },
        )
    }

    /// The worker pool.
    pub fn runner(&self) -> Runner {
        let sync = &self.settings.sync;
        Runner::new(
            self.parts.processor.clone(),
            self.series(),
            RunnerConfig {
                // The pool grows to a batching CRM's batch size (`Runner::pool_size`); Nylas
                // fetches stay bounded by `sync.workers` (`with_fetch_limit`).
                workers: sync.workers,
                lease_for: sync.lease,
                poll_interval: POLL_INTERVAL,
                retry: retry_policy(&self.settings),
                owner: self.parts.owner.clone(),
            },
        )
    }

    /// The notification-log pruner (`store.keep_notifications`, hourly).
    pub fn pruner(&self) -> Pruner {
        Pruner::new(
            self.parts.store.clone(),
            self.parts.clock,
            self.parts.metrics.clone(),
            self.settings.store.keep_notifications,
            pruning::PRUNE_EVERY,
        )
    }

    /// The webhook-subscription monitor (every few minutes, on one replica).
    pub fn subscription_monitor(&self) -> SubscriptionMonitor {
        SubscriptionMonitor::new(
            self.parts.nylas.clone(),
            self.parts.store.clone(),
            self.parts.metrics.clone(),
            self.parts.clock,
            self.parts.owner.clone(),
            subscription_monitor::CHECK_EVERY,
        )
    }

    /// Starts the periodic tasks of `serve` (pruning, webhook-subscription monitor) until `stop` is cancelled.
    fn spawn_periodic(&self, stop: &CancellationToken) -> tokio::task::JoinSet<()> {
        let mut tasks = tokio::task::JoinSet::new();
        tasks.spawn(self.pruner().run(stop.clone()));
        tasks.spawn(self.subscription_monitor().run(stop.clone()));
        tasks
    }

    /// Starts the group-commit ingest writer.
    pub fn ingestor(&self) -> Ingestor {
        Ingestor::spawn(self.parts.store.clone(), self.parts.clock, MAX_INGEST_BATCH)
    }

    /// The HTTP router, handing notifications to `ingest`; it answers 503 once `draining` is
    /// cancelled.
    pub fn router(&self, ingest: Ingestor, draining: CancellationToken) -> Router {
        let state = EdgeState {
            ingest,
            store: self.parts.store.clone(),
            secrets: self.settings.nylas.webhook_secrets.clone().into(),
            max_body_bytes: self.settings.server.max_body_bytes,
            request_timeout: self.settings.server.request_timeout,
            clock: self.parts.clock,
            draining,
            metrics: self.parts.metrics.clone(),
            commits: Arc::default(),
            rejections: Arc::new(LogThrottle::rejections()),
            owner: self.parts.owner.as_str().into(),
        };
        http::router(state, &self.settings.server.webhook_path)
    }

    /// Runs the daemon on `listener` until `shutdown` resolves, then drains and returns within
    /// `server.shutdown_timeout` (plus the final flush): HTTP connections still open by then are
    /// closed, whatever their clients do.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let address = listener.local_addr().map_err(AppError::Server)?;
        self.log_start(address);
        let ingest = self.ingestor();
        let draining = CancellationToken::new();
        let stop_workers = CancellationToken::new();
        let closing = server::Shutdown::default();
        let router = self.router(ingest.clone(), draining.clone());
        let runner = self.runner();
        let drain_for = self.settings.server.shutdown_timeout;
        let workers = {
            let stop = stop_workers.clone();
            tokio::spawn(async move { runner.run(stop, drain_for).await })
        };
        let stop_periodic = CancellationToken::new();
        let periodic = self.spawn_periodic(&stop_periodic);
        let reconciler = self.reconciler(stop_workers.clone());
        let reconcile = tokio::spawn(reconciler.run(stop_workers.clone()));
        let limits = ServerLimits {
            request_timeout: self.settings.server.request_timeout,
            max_connections: self.settings.server.max_connections,
        };
        let mut server = tokio::spawn(server::run(listener, router, limits, closing.clone()));
        // The server only ends early when it panicked; then the workers drain as on a signal
        // and the failure is returned.
        let failed = tokio::select! {
            () = shutdown => None,
            ended = &mut server => Some(ended.err().map_or_else(
                || std::io::Error::other("the HTTP server stopped"),
                std::io::Error::other,
            )),
        };
        let force_at = tokio::time::Instant::now() + drain_for;
        tracing::info!("Shutting down: new notifications are answered 503 while jobs drain.");
        draining.cancel();
        stop_periodic.cancel();
        stop_workers.cancel();
        if let Err(error) = workers.await {
            tracing::error!(error = %crate::cause::Chain(&error), "The worker pool ended abnormally.");
        }
        if let Err(error) = reconcile.await {
            tracing::error!(error = %crate::cause::Chain(&error), "Reconciliation ended abnormally.");
        }
        if failed.is_none() {
            stop_server(server, &closing, force_at).await;
        } else {
            // Close what the failed server left open.
            closing.stop.cancel();
            closing.force.cancel();
        }
        periodic.join_all().await;
        crate::background::periodic::release_lock(
            self.parts.store.as_ref(),
            store_gauges::LOCK,
            &self.parts.owner,
        )
        .await;
        ingest.close().await;
        tracing::info!("calsync stopped.");
        failed.map_or(Ok(()), |error| Err(AppError::Server(error)))
    }

    /// The start-up log lines of `serve`.
    fn log_start(&self, address: std::net::SocketAddr) {
        if self.settings.nylas.webhook_secrets.is_empty() {
            tracing::warn!(
                "No webhook secret is configured: notifications are answered 503 until nylas.webhook_secrets (or NYLAS_WEBHOOK_SECRET) is set. The challenge is answered."
            );
        }
        tracing::info!(
            version = crate::version::VERSION,
            git_sha = crate::version::GIT_SHA,
            listen = %address,
            webhook_path = %self.settings.server.webhook_path,
            store = self.parts.store.backend(),
            crm.kind = self.parts.crm.kind(),
            "calsync is serving."
        );
    }
}

/// How the store schedules enqueued jobs: `sync.coalesce_window` and `sync.coalesce_max_delay`.
pub fn queue_policy(settings: &Settings) -> QueuePolicy {
    QueuePolicy {
        coalesce_window: settings.sync.coalesce_window,
        coalesce_max_delay: settings.sync.coalesce_max_delay,
    }
}
