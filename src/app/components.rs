//! The components [`App`](super::App) builds once from the settings: the store, the Nylas
//! client, the CRM adapter, the write path (with the circuit breaker over both upstreams) and
//! the metrics registry, as one plain struct of shared handles.
//!
//! Callers receive components explicitly — this struct, or a narrower one built from it
//! ([`super::ReplayDeps`], `BackfillDeps`, `ReconcilerDeps`) — and never reach into the `App`.
//!
//! Invariants: built once per process, so every clone shares the same store pool, HTTP
//! connection pool, CRM rate cap and upstream gates (a pause seen by one caller holds back all);
//! the breaker watches exactly the gates of this Nylas client and of this CRM adapter's
//! transport; everything that decides *when* takes the one [`Clock`] given here.

use std::sync::Arc;

use super::{AppError, http_client, retry_policy};
use crate::clock::Clock;
use crate::config::Settings;
use crate::crm::transport::CrmTransport;
use crate::crm::{self, CrmAdapter};
use crate::nylas::NylasClient;
use crate::policy::{Policy, PolicySettings};
use crate::store::Store;
use crate::telemetry::metrics::Metrics;
use crate::worker::Processor;
use crate::worker::breaker::Breaker;

/// The shared components of one process. Cheap to clone (shared handles).
#[derive(Clone)]
pub struct Components {
    /// The time source.
    pub clock: Clock,
    /// The durable store.
    pub store: Arc<dyn Store>,
    /// The Nylas API client.
    pub nylas: NylasClient,
    /// The CRM adapter.
    pub crm: Arc<dyn CrmAdapter>,
    /// The write path (shared by the worker pool, backfill and replays of one job); its
    /// [`Processor::breaker`] is the circuit breaker over the CRM and Nylas.
    pub processor: Arc<Processor>,
    /// The metrics registry.
    pub metrics: Arc<Metrics>,
    /// This process's name in leases and locks.
    pub owner: String,
}

impl Components {
    /// Builds the clients, the adapter and the write path around `store`.
    pub fn build(
        settings: &Settings,
        clock: Clock,
        store: Arc<dyn Store>,
    ) -> Result<Components, AppError> {
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
            retry_policy(settings).backoff,
        ));
        let crm = crm::build(settings, transport)?;
        let policy = Policy::new(
            PolicySettings::from_settings(settings),
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
        Ok(Components {
            clock,
            store,
            nylas,
            crm,
            processor,
            metrics,
            owner,
        })
    }
}
