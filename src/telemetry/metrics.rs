//! Metrics: one Prometheus registry per [`Metrics`] handle (no process-global recorder, so tests
//! running several apps in one process see only their own numbers), rendered at `GET /metrics`
//! in the Prometheus text format. Every name is prefixed `calsync_`.
//!
//! Label values are bounded sets (trigger types, results, operations, status codes, outcomes,
//! target kinds): never an event, grant or notification id.
//!
//! Invariants:
//! - **Present from the start.** Every family whose label values are a known set has each of
//!   its series from the start, at zero ([`Metrics::new`], [`Metrics::prime_upstreams`]), so
//!   alerts and dashboards work on a fresh process. The per-request families
//!   (`crm_requests`, `crm_request_seconds`, `nylas_requests`, `crm_quota`), whose labels are an
//!   endpoint or operation and an HTTP status, appear with the first request.
//! - **Store-wide gauges once.** `jobs`, `oldest_pending_job_age_seconds` and `grants_paused`
//!   describe the shared store, not the process: they live in a registry of their own, rendered
//!   only by the replica that exports them (see [`super::store_gauges`]), so a `sum()` over
//!   replicas counts each job once.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

mod labels;
mod record;

pub use labels::{
    BuildLabels, CrmOperationLabels, CrmRequestLabels, FILTER_REASONS, FailureLabels, FilterLabels,
    JobStateLabels, KNOWN_TRIGGERS, NotificationLabels, NylasRequestLabels, OTHER_TRIGGER,
    OutcomeLabels, QuotaLabels, ReconcileLabels, SubscriptionLabels, UNKNOWN_TRIGGER,
    UpstreamLabels, trigger_label,
};

/// The metrics of one calsync process. Share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    /// The store-wide gauges (rendered by one replica).
    store_registry: Registry,
    build_info: Family<BuildLabels, Gauge>,
    store_gauges_exporter: Gauge,
    notifications: Family<NotificationLabels, Counter>,
    ingest_seconds: Histogram,
    jobs: Family<JobStateLabels, Gauge>,
    oldest_pending_seconds: Gauge<f64, AtomicU64>,
    crm_requests: Family<CrmRequestLabels, Counter>,
    crm_request_seconds: Family<CrmOperationLabels, Histogram>,
    nylas_requests: Family<NylasRequestLabels, Counter>,
    records: Family<OutcomeLabels, Counter>,
    events_filtered: Family<FilterLabels, Counter>,
    owner_unmapped: Counter,
    job_failures: Family<FailureLabels, Counter>,
    auth_failures: Family<UpstreamLabels, Counter>,
    upstream_paused: Family<UpstreamLabels, Gauge>,
    grants_paused: Gauge,
    subscriptions: Family<SubscriptionLabels, Gauge>,
    crm_quota: Family<QuotaLabels, Gauge>,
    notifications_pruned: Counter,
    series_master_records_removed: Counter,
    reconcile_passes: Family<ReconcileLabels, Counter>,
    reconcile_events: Counter,
    reconcile_last_success: Gauge<f64, AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every calsync metric registered, and every series of a known label
    /// set at zero (the build information at 1).
    pub fn new() -> Self {
        let mut metrics = Metrics {
            registry: Registry::with_prefix("calsync"),
            store_registry: Registry::with_prefix("calsync"),
            build_info: Family::default(),
            store_gauges_exporter: Gauge::default(),
            notifications: Family::default(),
            ingest_seconds: Histogram::new(exponential_buckets(0.0005, 2.0, 16)),
            jobs: Family::default(),
            oldest_pending_seconds: Gauge::default(),
            crm_requests: Family::default(),
            crm_request_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 14))
            }),
            nylas_requests: Family::default(),
            records: Family::default(),
            events_filtered: Family::default(),
            owner_unmapped: Counter::default(),
            job_failures: Family::default(),
            auth_failures: Family::default(),
            upstream_paused: Family::default(),
            grants_paused: Gauge::default(),
            subscriptions: Family::default(),
            crm_quota: Family::default(),
            notifications_pruned: Counter::default(),
            series_master_records_removed: Counter::default(),
            reconcile_passes: Family::default(),
            reconcile_events: Counter::default(),
            reconcile_last_success: Gauge::default(),
        };
        metrics.register_process();
        metrics.register_outbound();
        metrics.register_maintenance();
        metrics.register_store_wide();
        metrics.prime();
        metrics
    }

    /// The build, the edge and the outcome of jobs.
    fn register_process(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "build_info",
            "Always 1: the version and git commit of the running calsync",
            self.build_info.clone(),
        );
        registry.register(
            "store_gauges_exporter",
            "1 on the replica exporting the store-wide gauges (calsync_jobs, …), 0 on the others",
            self.store_gauges_exporter.clone(),
        );
        registry.register(
            "notifications_received",
            "Webhook notifications received, by trigger type and result",
            self.notifications.clone(),
        );
        registry.register(
            "ingest_seconds",
            "Time from receiving a notification to its durable commit (enqueue-to-ack)",
            self.ingest_seconds.clone(),
        );
        registry.register(
            "records",
            "Jobs completed, by outcome (created, updated, unchanged, deleted, …)",
            self.records.clone(),
        );
        registry.register(
            "series_master_records_removed",
            "Records an earlier calsync wrote for series masters, removed when their series was re-read",
            self.series_master_records_removed.clone(),
        );
        registry.register(
            "events_filtered",
            "Events not written to the CRM by policy (privacy, relevance filters, calendar selection), by reason",
            self.events_filtered.clone(),
        );
        registry.register(
            "owner_unmapped",
            "Meeting writes whose owner's email has no CRM user (written without an owner, or with crm.default_owner)",
            self.owner_unmapped.clone(),
        );
        registry.register(
            "job_failures",
            "Failed job attempts by class (retryable, permanent, auth)",
            self.job_failures.clone(),
        );
    }

    /// Requests to the CRM and Nylas, and the state of those targets.
    fn register_outbound(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "crm_requests",
            "CRM requests by adapter kind, operation and HTTP status",
            self.crm_requests.clone(),
        );
        registry.register(
            "crm_request_seconds",
            "CRM request latency by adapter kind and operation",
            self.crm_request_seconds.clone(),
        );
        registry.register(
            "nylas_requests",
            "Nylas API requests by operation and HTTP status",
            self.nylas_requests.clone(),
        );
        registry.register(
            "auth_failures",
            "Requests rejected for bad or expired credentials, by target",
            self.auth_failures.clone(),
        );
        registry.register(
            "target_paused",
            "1 while calsync holds back all requests to a target (outage, throttle)",
            self.upstream_paused.clone(),
        );
        registry.register(
            "crm_quota",
            "API allowance the CRM reports in its answers (e.g. Sforce-Limit-Info, HubSpot and Pipedrive daily remaining)",
            self.crm_quota.clone(),
        );
    }

    /// The periodic tasks: webhook monitor, pruning, reconciliation.
    fn register_maintenance(&mut self) {
        let registry = &mut self.registry;
        registry.register(
            "webhooks",
            "Nylas webhook subscriptions pointing at calsync, by status",
            self.subscriptions.clone(),
        );
        registry.register(
            "notifications_pruned",
            "Notifications removed from the notification log after store.keep_notifications",
            self.notifications_pruned.clone(),
        );
        registry.register(
            "reconcile_passes",
            "Reconciliation passes by kind and result",
            self.reconcile_passes.clone(),
        );
        registry.register(
            "reconcile_events_enqueued",
            "Events reconciliation enqueued for the workers",
            self.reconcile_events.clone(),
        );
        registry.register(
            "reconcile_last_success_timestamp_seconds",
            "When the last full reconciliation pass that read every grant and calendar started (Unix seconds)",
            self.reconcile_last_success.clone(),
        );
    }

    /// The gauges read from the shared store (rendered by one replica).
    fn register_store_wide(&mut self) {
        let registry = &mut self.store_registry;
        registry.register("jobs", "Jobs by state", self.jobs.clone());
        registry.register(
            "oldest_pending_job_age_seconds",
            "Age of the oldest job not in flight (0 when none)",
            self.oldest_pending_seconds.clone(),
        );
        registry.register(
            "grants_paused",
            "Grants whose sync is paused (expired or rejected credentials)",
            self.grants_paused.clone(),
        );
    }

    /// The Prometheus text exposition (format 0.0.4) of every metric, store-wide gauges included.
    pub fn render(&self) -> String {
        self.render_scrape(true)
    }

    /// The Prometheus text exposition (format 0.0.4), with the store-wide gauges when
    /// `store_wide` (this replica exports them).
    pub fn render_scrape(&self, store_wide: bool) -> String {
        use prometheus_client::encoding::prometheus_text::encode;
        let mut text = String::new();
        let mut encoded = encode(&mut text, &self.registry);
        if store_wide && encoded.is_ok() {
            encoded = encode(&mut text, &self.store_registry);
        }
        if encoded.is_err() {
            // Writing to a String cannot fail; keep the scrape well-formed regardless.
            text.clear();
            let _ = writeln!(text, "# metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests;
