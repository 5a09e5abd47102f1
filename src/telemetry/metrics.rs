//! Metrics: one Prometheus registry per [`Metrics`] handle (no process-global recorder, so tests
//! running several apps in one process see only their own numbers), rendered at `GET /metrics`
//! in the Prometheus text format. Every name is prefixed `calsync_`.
//!
//! Label values are bounded sets (trigger types, results, operations, status codes, outcomes,
//! target kinds): never an event, grant or notification id.

use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use jiff::Timestamp;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::store::JobStats;

mod labels;

pub use labels::{
    CrmOperationLabels, CrmRequestLabels, FailureLabels, JobStateLabels, NotificationLabels,
    NylasRequestLabels, OutcomeLabels, QuotaLabels, ReconcileLabels, TargetLabels, WebhookLabels,
};

/// The metrics of one calsync process. Share it as `Arc<Metrics>`.
pub struct Metrics {
    registry: Registry,
    notifications: Family<NotificationLabels, Counter>,
    ingest_seconds: Histogram,
    jobs: Family<JobStateLabels, Gauge>,
    oldest_pending_seconds: Gauge<f64, AtomicU64>,
    crm_requests: Family<CrmRequestLabels, Counter>,
    crm_request_seconds: Family<CrmOperationLabels, Histogram>,
    nylas_requests: Family<NylasRequestLabels, Counter>,
    records: Family<OutcomeLabels, Counter>,
    job_failures: Family<FailureLabels, Counter>,
    auth_failures: Family<TargetLabels, Counter>,
    target_paused: Family<TargetLabels, Gauge>,
    grants_paused: Gauge,
    webhooks: Family<WebhookLabels, Gauge>,
    crm_quota: Family<QuotaLabels, Gauge>,
    notifications_pruned: Counter,
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
    /// A fresh registry with every calsync metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("calsync");
        let notifications = Family::<NotificationLabels, Counter>::default();
        registry.register(
            "notifications_received",
            "Webhook notifications received, by trigger type and result",
            notifications.clone(),
        );
        let ingest_seconds = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "ingest_seconds",
            "Time from receiving a notification to its durable commit (enqueue-to-ack)",
            ingest_seconds.clone(),
        );
        let jobs = Family::<JobStateLabels, Gauge>::default();
        registry.register("jobs", "Jobs by state", jobs.clone());
        let oldest_pending_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "oldest_pending_job_age_seconds",
            "Age of the oldest job not in flight (0 when none)",
            oldest_pending_seconds.clone(),
        );
        let crm_requests = Family::<CrmRequestLabels, Counter>::default();
        registry.register(
            "crm_requests",
            "CRM requests by adapter kind, operation and HTTP status",
            crm_requests.clone(),
        );
        let crm_request_seconds =
            Family::<CrmOperationLabels, Histogram>::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.005, 2.0, 14))
            });
        registry.register(
            "crm_request_seconds",
            "CRM request latency by adapter kind and operation",
            crm_request_seconds.clone(),
        );
        let nylas_requests = Family::<NylasRequestLabels, Counter>::default();
        registry.register(
            "nylas_requests",
            "Nylas API requests by operation and HTTP status",
            nylas_requests.clone(),
        );
        let records = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "records",
            "Jobs completed, by outcome (created, updated, unchanged, deleted, …)",
            records.clone(),
        );
        let job_failures = Family::<FailureLabels, Counter>::default();
        registry.register(
            "job_failures",
            "Failed job attempts by class (retryable, permanent, auth)",
            job_failures.clone(),
        );
        let auth_failures = Family::<TargetLabels, Counter>::default();
        registry.register(
            "auth_failures",
            "Requests rejected for bad or expired credentials, by target",
            auth_failures.clone(),
        );
        let target_paused = Family::<TargetLabels, Gauge>::default();
        registry.register(
            "target_paused",
            "1 while calsync holds back all requests to a target (outage, throttle)",
            target_paused.clone(),
        );
        let grants_paused = Gauge::default();
        registry.register(
            "grants_paused",
            "Grants whose sync is paused (expired or rejected credentials)",
            grants_paused.clone(),
        );
        let webhooks = Family::<WebhookLabels, Gauge>::default();
        registry.register(
            "webhooks",
            "Nylas webhook subscriptions pointing at calsync, by status",
            webhooks.clone(),
        );
        let crm_quota = Family::<QuotaLabels, Gauge>::default();
        registry.register(
            "crm_quota",
            "API allowance the CRM reports in its answers (e.g. Sforce-Limit-Info, HubSpot and Pipedrive daily remaining)",
            crm_quota.clone(),
        );
        let notifications_pruned = Counter::default();
        registry.register(
            "notifications_pruned",
            "Notifications removed from the notification log after store.keep_notifications",
            notifications_pruned.clone(),
        );
        let reconcile_passes = Family::<ReconcileLabels, Counter>::default();
        registry.register(
            "reconcile_passes",
            "Reconciliation passes by kind and result",
            reconcile_passes.clone(),
        );
        let reconcile_events = Counter::default();
        registry.register(
            "reconcile_events_enqueued",
            "Events reconciliation enqueued for the workers",
            reconcile_events.clone(),
        );
        let reconcile_last_success = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "reconcile_last_success_timestamp_seconds",
            "When the last full reconciliation pass that read every grant and calendar started (Unix seconds)",
            reconcile_last_success.clone(),
        );
        Metrics {
            registry,
            notifications,
            ingest_seconds,
            jobs,
            oldest_pending_seconds,
            crm_requests,
            crm_request_seconds,
            nylas_requests,
            records,
            job_failures,
            auth_failures,
            target_paused,
            grants_paused,
            webhooks,
            crm_quota,
            notifications_pruned,
            reconcile_passes,
            reconcile_events,
            reconcile_last_success,
        }
    }

    /// Counts a received notification.
    pub fn notification(&self, trigger: &str, result: &str) {
        let trigger = trigger.split('.').take(2).collect::<Vec<_>>().join(".");
        let trigger = if trigger.is_empty() {
            "unknown".to_string()
        } else {
            trigger
        };
        self.notifications
            .get_or_create(&NotificationLabels {
                trigger,
                result: result.to_string(),
            })
            .inc();
    }

    /// Observes the time from receipt to durable commit.
    pub fn observe_ingest(&self, elapsed: Duration) {
        self.ingest_seconds.observe(elapsed.as_secs_f64());
    }

    /// Sets the job gauges from the store's counts.
    pub fn set_job_stats(&self, stats: &JobStats, now: Timestamp) {
        for (state, count) in [
            ("pending", stats.pending),
            ("in_flight", stats.in_flight),
            ("retrying", stats.retrying),
            ("dead", stats.dead),
        ] {
            let labels = JobStateLabels {
                state: state.to_string(),
            };
            self.jobs
                .get_or_create(&labels)
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
        let age = stats
            .oldest_pending
            .map(|oldest| now.duration_since(oldest).as_secs_f64().max(0.0))
            .unwrap_or(0.0);
        self.oldest_pending_seconds.set(age);
    }

    /// Counts a CRM request and observes its latency; `status` is `None` when no answer came.
    pub fn crm_request(&self, kind: &str, operation: &str, status: Option<u16>, elapsed: Duration) {
        let status = status.map_or_else(|| "error".to_string(), |code| code.to_string());
        self.crm_requests
            .get_or_create(&CrmRequestLabels {
                kind: kind.to_string(),
                operation: operation.to_string(),
                status,
            })
            .inc();
        self.crm_request_seconds
            .get_or_create(&CrmOperationLabels {
                kind: kind.to_string(),
                operation: operation.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Counts a Nylas request; `status` is `None` when no answer came.
    pub fn nylas_request(&self, operation: &str, status: Option<u16>) {
        let status = status.map_or_else(|| "error".to_string(), |code| code.to_string());
        self.nylas_requests
            .get_or_create(&NylasRequestLabels {
                operation: operation.to_string(),
                status,
            })
            .inc();
    }

    /// Counts a completed job by outcome.
    pub fn record_outcome(&self, outcome: &str) {
        self.records
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    /// Counts a failed job attempt by class.
    pub fn job_failure(&self, class: &str) {
        self.job_failures
            .get_or_create(&FailureLabels {
                class: class.to_string(),
            })
            .inc();
    }

    /// Counts a credential rejection by a target.
    pub fn auth_failure(&self, target: &str) {
        self.auth_failures
            .get_or_create(&TargetLabels {
                target: target.to_string(),
            })
            .inc();
    }

    /// Marks a target paused (true) or flowing (false).
    pub fn set_target_paused(&self, target: &str, paused: bool) {
        self.target_paused
            .get_or_create(&TargetLabels {
                target: target.to_string(),
            })
            .set(i64::from(paused));
    }

    /// Sets the number of paused grants.
    pub fn set_grants_paused(&self, count: u64) {
        self.grants_paused
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Sets the number of webhook subscriptions per status (statuses not given are zeroed).
    pub fn set_webhooks<'a>(&self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        self.webhooks.clear();
        for (status, count) in counts {
            self.webhooks
                .get_or_create(&WebhookLabels {
                    status: status.to_string(),
                })
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }

    /// Records an API allowance the CRM reported (`quota` such as `daily_remaining`).
    pub fn set_crm_quota(&self, kind: &str, quota: &str, value: i64) {
        self.crm_quota
            .get_or_create(&QuotaLabels {
                kind: kind.to_string(),
                quota: quota.to_string(),
            })
            .set(value);
    }

    /// Counts notifications pruned from the notification log.
    pub fn notifications_pruned(&self, count: u64) {
        self.notifications_pruned.inc_by(count);
    }

    /// Counts a reconciliation pass (`pass`: `full`/`resumed`; `result`: `ok`, `partial`,
    /// `error`, `not_leader`) and the events it enqueued.
    pub fn reconcile_pass(&self, pass: &str, result: &str, events_enqueued: u64) {
        self.reconcile_passes
            .get_or_create(&ReconcileLabels {
                pass: pass.to_string(),
                result: result.to_string(),
            })
            .inc();
        self.reconcile_events.inc_by(events_enqueued);
    }

    /// Records when the last complete full pass started.
    pub fn reconcile_succeeded(&self, started: Timestamp) {
        self.reconcile_last_success
            .set(started.as_millisecond() as f64 / 1000.0);
    }

    /// The Prometheus text exposition (format 0.0.4).
    pub fn render(&self) -> String {
        let mut text = String::new();
        if prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry).is_err()
        {
            // Writing to a String cannot fail; keep the scrape well-formed regardless.
            text.clear();
            let _ = writeln!(text, "# metrics could not be encoded");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prefixed_metrics_with_bounded_labels() {
        let metrics = Metrics::new();
        metrics.notification("event.updated.transformed", "accepted");
        metrics.notification("", "bad_request");
        metrics.crm_request("rest", "create", Some(201), Duration::from_millis(12));
        metrics.crm_request("rest", "update", None, Duration::from_millis(3));
        metrics.record_outcome("created");
        metrics.set_job_stats(
            &JobStats {
                pending: 3,
                in_flight: 1,
                retrying: 2,
                dead: 0,
                oldest_pending: Some(Timestamp::from_second(100).unwrap()),
            },
            Timestamp::from_second(130).unwrap(),
        );
        let text = metrics.render();
        for expected in [
            r#"calsync_notifications_received_total{trigger="event.updated",result="accepted"} 1"#,
            r#"calsync_notifications_received_total{trigger="unknown",result="bad_request"} 1"#,
            r#"calsync_crm_requests_total{kind="rest",operation="create",status="201"} 1"#,
            r#"calsync_crm_requests_total{kind="rest",operation="update",status="error"} 1"#,
            r#"calsync_records_total{outcome="created"} 1"#,
            r#"calsync_jobs{state="pending"} 3"#,
            r#"calsync_jobs{state="retrying"} 2"#,
            "calsync_oldest_pending_job_age_seconds 30",
            "calsync_crm_request_seconds_bucket",
            "calsync_ingest_seconds_count 0",
        ] {
            assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
        }
    }

    #[test]
    fn each_handle_has_its_own_registry() {
        let first = Metrics::new();
        let second = Metrics::new();
        first.record_outcome("created");
        assert!(
            first
                .render()
                .contains(r#"calsync_records_total{outcome="created"} 1"#)
        );
        assert!(!second.render().contains(r#"outcome="created""#));
    }
}
