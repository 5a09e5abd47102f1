//! Wiring: builds the store, clients, adapter and worker pool from [`Settings`], and runs the
//! daemon (edge, workers, and the background tasks of [`crate::background`]: reconciliation,
//! the webhook-subscription monitor, pruning).
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
use crate::crm::transport::CrmTransport;
use crate::crm::{self, CrmAdapter, CrmError};
use crate::http::server::{self, ServerLimits};
use crate::http::{self, EdgeState};
use crate::nylas::NylasClient;
use crate::policy::{Policy, PolicySettings};
use crate::retry::Backoff;
use crate::store::{self, Ingestor, QueuePolicy, Store, StoreError};
use crate::telemetry::metrics::Metrics;
use crate::telemetry::store_gauges;
use crate::telemetry::throttle::LogThrottle;
use crate::worker::breaker::Breaker;
use crate::worker::runner::RunnerConfig;
use crate::worker::settle::RetryPolicy;
use crate::worker::{Processor, Runner, Series, SeriesSettings};

mod deps;

/// The longest wait between claims without a wake-up (work from other processes).
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// The most notifications committed in one ingest transaction.
const MAX_INGEST_BATCH: usize = 512;

/// The retry policy of `[sync]`.
fn retry_policy(settings: &Settings) -> RetryPolicy {
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

/// Everything the commands need, built once from the settings.
pub struct App {
    settings: Settings,
    clock: Clock,
    store: Arc<dyn Store>,
    nylas: NylasClient,
    crm: Arc<dyn CrmAdapter>,
    processor: Arc<Processor>,
    metrics: Arc<Metrics>,
    owner: String,
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
        let http = http_client()?;
        let metrics = Arc::new(Metrics::new());
        let nylas = NylasClient::new(&settings.nylas, http.clone())
            .with_metrics(metrics.clone())
            .with_clock(clock);
        let transport = CrmTransport::new(
            http,
            settings.crm.kind(),
            settings.sync.crm_requests_per_second,
            metrics.clone(),
        )
        .with_clock(clock);
        metrics.prime_upstreams(transport.gate().label());
        let breaker = Arc::new(Breaker::new(
            transport.gate().clone(),
            settings.crm.kind(),
            nylas.gate().clone(),
            retry_policy(&settings).backoff,
        ));
        let crm = crm::build(&settings, transport)?;
        let policy = Policy::new(
            PolicySettings::from_settings(&settings),
            nylas.clone(),
            metrics.clone(),
        );
        let processor = Arc::new(
            Processor::new(
                store.clone(),
                nylas.clone(),
                crm.clone(),
                settings.nylas.fetch,
                clock,
                metrics.clone(),
                breaker,
            )
            .with_meetings(settings.sync.deleted_meetings, settings.sync.lease)
            .with_policy(Arc::new(policy))
            .with_fetch_limit(settings.sync.workers),
        );
        let owner = format!(
            "{}-{}",
            std::process::id(),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        Ok(App {
            settings,
            clock,
            store,
            nylas,
            crm,
            processor,
            metrics,
            owner,
        })
    }

    /// The settings the app was built from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The Nylas client.
    pub fn nylas(&self) -> &NylasClient {
        &self.nylas
    }

    /// The CRM adapter.
    pub fn crm(&self) -> &Arc<dyn CrmAdapter> {
        &self.crm
    }

    /// The metrics registry.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The circuit breaker over the CRM and Nylas, as the workers see it.
    pub fn breaker(&self) -> &Arc<Breaker> {
        self.processor.breaker()
    }

    /// The write path (shared by the worker pool and the backfill).
    pub fn processor(&self) -> &Arc<Processor> {
        &self.processor
    }

    /// This process's name in leases and locks.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The retry policy of `[sync]`.
    pub fn retry_policy(&self) -> RetryPolicy {
        retry_policy(&self.settings)
    }

    /// What runs each job ahead of the write path: series masters are expanded, never written.
    pub fn series(&self) -> Series {
        Series::new(
            self.nylas.clone(),
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
            self.processor.clone(),
            self.series(),
            RunnerConfig {
                // A batching CRM needs as many jobs in flight as a batch holds for batches to
                // fill; Nylas fetches stay bounded by `sync.workers` (`with_fetch_limit`).
                workers: sync.workers.max(self.crm.batch_capacity()),
                lease_for: sync.lease,
                poll_interval: POLL_INTERVAL,
                retry: retry_policy(&self.settings),
                owner: self.owner.clone(),
            },
        )
    }

    /// The notification-log pruner (`store.keep_notifications`, hourly).
    pub fn pruner(&self) -> Pruner {
        Pruner::new(
            self.store.clone(),
            self.clock,
            self.metrics.clone(),
            self.settings.store.keep_notifications,
            pruning::PRUNE_EVERY,
        )
    }

    /// The webhook-subscription monitor (every few minutes, on one replica).
    pub fn subscription_monitor(&self) -> SubscriptionMonitor {
        SubscriptionMonitor::new(
            self.nylas.clone(),
            self.store.clone(),
            self.metrics.clone(),
            self.clock,
            self.owner.clone(),
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
        Ingestor::spawn(self.store.clone(), self.clock, MAX_INGEST_BATCH)
    }

    /// The HTTP router, handing notifications to `ingest`; it answers 503 once `draining` is
    /// cancelled.
    pub fn router(&self, ingest: Ingestor, draining: CancellationToken) -> Router {
        let state = EdgeState {
            ingest,
            store: self.store.clone(),
            secrets: self.settings.nylas.webhook_secrets.clone().into(),
            max_body_bytes: self.settings.server.max_body_bytes,
            request_timeout: self.settings.server.request_timeout,
            clock: self.clock,
            draining,
            metrics: self.metrics.clone(),
            commits: Arc::default(),
            rejections: Arc::new(LogThrottle::rejections()),
            owner: self.owner.as_str().into(),
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
            self.store.as_ref(),
            store_gauges::LOCK,
            &self.owner,
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
            store = self.store.backend(),
            crm.kind = self.crm.kind(),
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
