//! Recording: the methods that count and set calsync's metrics. Label values are normalised
//! here into their bounded sets (see [`super::labels`]).

use std::time::Duration;

use jiff::Timestamp;

use super::Metrics;
use super::labels::*;
use crate::store::JobStats;

impl Metrics {
    /// Sets every series of a known label set to zero, and the build information.
    pub(super) fn prime(&self) {
        self.build_info
            .get_or_create(&BuildLabels {
                version: crate::version::VERSION.to_owned(),
                git_sha: crate::version::GIT_SHA.to_owned(),
            })
            .set(1);
        for trigger in KNOWN_TRIGGERS {
            for result in STORED_RESULTS {
                self.notification_counter(trigger, result).inc_by(0);
            }
        }
        self.notification_counter(OTHER_TRIGGER, "ignored")
            .inc_by(0);
        for result in REJECTED_RESULTS {
            self.notification_counter(UNKNOWN_TRIGGER, result).inc_by(0);
        }
        for state in JOB_STATES {
            self.jobs
                .get_or_create(&JobStateLabels {
                    state: state.to_owned(),
                })
                .set(0);
        }
        for outcome in OUTCOMES {
            self.records
                .get_or_create(&OutcomeLabels {
                    outcome: outcome.to_owned(),
                })
                .inc_by(0);
        }
        for reason in FILTER_REASONS {
            self.events_filtered
                .get_or_create(&FilterLabels {
                    reason: reason.to_owned(),
                })
                .inc_by(0);
        }
        for class in FAILURE_CLASSES {
            self.job_failures
                .get_or_create(&FailureLabels {
                    class: class.to_owned(),
                })
                .inc_by(0);
        }
        self.set_subscriptions([]);
        for pass in RECONCILE_PASSES {
            for result in RECONCILE_RESULTS {
                self.reconcile_passes
                    .get_or_create(&ReconcileLabels {
                        pass: pass.to_owned(),
                        result: result.to_owned(),
                    })
                    .inc_by(0);
            }
        }
    }

    /// Sets the per-upstream series to zero: `target_paused` for the CRM (`crm:<kind>`) and
    /// Nylas, `auth_failures` for those and `nylas_grant` (the upstreams are known once the CRM
    /// kind is).
    pub fn prime_upstreams(&self, crm_upstream: &str) {
        for target in [crm_upstream, "nylas"] {
            self.upstream_paused
                .get_or_create(&UpstreamLabels {
                    target: target.to_owned(),
                })
                .set(0);
        }
        for target in [crm_upstream, "nylas", "nylas_grant"] {
            self.auth_failures
                .get_or_create(&UpstreamLabels {
                    target: target.to_owned(),
                })
                .inc_by(0);
        }
    }

    /// Counts a received notification; `trigger` is the notification's `type` (any suffix,
    /// any value: the label is one of [`KNOWN_TRIGGERS`], `other` or `unknown`).
    pub fn notification(&self, trigger: &str, result: &str) {
        self.notification_counter(trigger_label(trigger), result)
            .inc();
    }

    fn notification_counter(
        &self,
        trigger: &str,
        result: &str,
    ) -> impl std::ops::Deref<Target = prometheus_client::metrics::counter::Counter> + '_ {
        self.notifications.get_or_create(&NotificationLabels {
            trigger: trigger.to_owned(),
            result: result.to_owned(),
        })
    }

    /// Marks whether this replica exports the store-wide gauges.
    pub fn set_store_gauges_exporter(&self, exporting: bool) {
        self.store_gauges_exporter.set(i64::from(exporting));
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

    /// Counts an event the policy kept out of the CRM, by reason (one of [`FILTER_REASONS`];
    /// anything else counts as `unknown`).
    pub fn event_filtered(&self, reason: &str) {
        let reason = if FILTER_REASONS.contains(&reason) {
            reason
        } else {
            "unknown"
        };
        self.events_filtered
            .get_or_create(&FilterLabels {
                reason: reason.to_owned(),
            })
            .inc();
    }

    /// Counts a meeting write whose owner has no CRM user.
    pub fn owner_unmapped(&self) {
        self.owner_unmapped.inc();
    }

    /// Counts a failed job attempt by class.
    pub fn job_failure(&self, class: &str) {
        self.job_failures
            .get_or_create(&FailureLabels {
                class: class.to_string(),
            })
            .inc();
    }

    /// Counts a credential rejection by an upstream.
    pub fn auth_failure(&self, upstream: &str) {
        self.auth_failures
            .get_or_create(&UpstreamLabels {
                target: upstream.to_string(),
            })
            .inc();
    }

    /// Marks an upstream paused (true) or flowing (false).
    pub fn set_upstream_paused(&self, upstream: &str, paused: bool) {
        self.upstream_paused
            .get_or_create(&UpstreamLabels {
                target: upstream.to_string(),
            })
            .set(i64::from(paused));
    }

    /// Sets the number of paused grants.
    pub fn set_grants_paused(&self, count: u64) {
        self.grants_paused
            .set(i64::try_from(count).unwrap_or(i64::MAX));
    }

    /// Sets the number of webhook subscriptions per status (the known statuses not given are
    /// zero; other statuses only appear while counted).
    pub fn set_subscriptions<'a>(&self, counts: impl IntoIterator<Item = (&'a str, u64)>) {
        self.subscriptions.clear();
        for status in WEBHOOK_STATUSES {
            self.subscriptions
                .get_or_create(&SubscriptionLabels {
                    status: status.to_owned(),
                })
                .set(0);
        }
        for (status, count) in counts {
            self.subscriptions
                .get_or_create(&SubscriptionLabels {
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

    /// Counts a record an earlier calsync wrote for a series master, now removed.
    pub fn series_master_record_removed(&self) {
        self.series_master_records_removed.inc();
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
}
