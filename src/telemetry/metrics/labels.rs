//! The label sets of calsync's metrics: each a bounded set of values (never an id).

use prometheus_client::encoding::EncodeLabelSet;

/// `trigger`, `result` of a received notification.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NotificationLabels {
    /// The first two segments of the type (`event.updated`), or `unknown`.
    pub trigger: String,
    /// `accepted | duplicate | bad_signature | bad_request | too_large | ignored | unavailable`.
    pub result: String,
}

/// `state` of jobs.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct JobStateLabels {
    /// `pending | in_flight | retrying | dead`.
    pub state: String,
}

/// `kind`, `operation`, `status` of a CRM request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CrmRequestLabels {
    /// `crm.kind`.
    pub kind: String,
    /// The adapter's operation (`create`, `update`, `search`, …).
    pub operation: String,
    /// The HTTP status, or `error` when no answer came.
    pub status: String,
}

/// `kind`, `operation` of a CRM request (latency).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CrmOperationLabels {
    /// `crm.kind`.
    pub kind: String,
    /// The adapter's operation (`create`, `update`, `search`, …).
    pub operation: String,
}

/// `operation`, `status` of a Nylas request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NylasRequestLabels {
    /// The endpoint, e.g. `GET /v3/grants/{grant_id}/events/{event_id}`.
    pub operation: String,
    /// The HTTP status, or `error` when no answer came.
    pub status: String,
}

/// `outcome` of a job.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `created | updated | unchanged | stale | deleted | nothing_to_delete`.
    pub outcome: String,
}

/// `reason` an event was not written to the CRM (`calsync_events_filtered_total`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FilterLabels {
    /// One of [`FILTER_REASONS`].
    pub reason: String,
}

/// Every reason an event is filtered out (the policy's `SkipReason` names).
pub const FILTER_REASONS: [&str; 10] = [
    "private",
    "not_primary_calendar",
    "read_only_calendar",
    "event_type",
    "all_day",
    "free",
    "title",
    "declined",
    "no_external_attendee",
    "unknown",
];

/// The upstream an outbound request went to (`crm:<kind>`, `nylas`, `nylas_grant`); the label is
/// named `target` for users (a metric label), while Rust names call this an upstream.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabels {
    /// `crm:<kind>` or `nylas`.
    pub target: String,
}

/// `class` of a job failure.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FailureLabels {
    /// `retryable | permanent | auth`.
    pub class: String,
}

/// `kind`, `quota` of a CRM's reported API allowance.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QuotaLabels {
    /// `crm.kind`.
    pub kind: String,
    /// E.g. `daily_used`, `daily_limit`, `daily_remaining`.
    pub quota: String,
}

/// `status` of the Nylas webhook subscription.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SubscriptionLabels {
    /// `active | pause | failing | failed | …`.
    pub status: String,
}

/// `pass`, `result` of a reconciliation pass.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReconcileLabels {
    /// `full` (every interval) or `resumed` (grants re-authenticated since).
    pub pass: String,
    /// `ok`, `partial` (a grant or calendar could not be read), `error`, `not_leader`.
    pub result: String,
}

/// `version`, `git_sha` of the running build.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BuildLabels {
    /// The crate version.
    pub version: String,
    /// The git commit the build was made from.
    pub git_sha: String,
}

/// The `trigger` label values of the notification types calsync handles; any other type is
/// counted as [`OTHER_TRIGGER`], a request whose type could not be read as [`UNKNOWN_TRIGGER`].
pub const KNOWN_TRIGGERS: [&str; 6] = crate::triggers::HANDLED;

/// The `trigger` of a signed notification of a type calsync does not handle.
pub const OTHER_TRIGGER: &str = "other";

/// The `trigger` of a request rejected before its type was read.
pub const UNKNOWN_TRIGGER: &str = "unknown";

/// The `trigger` label of a notification `type`: its first two segments when they are a known
/// type, else `other` (`unknown` when empty). Bounded whatever a signed sender puts there.
pub fn trigger_label(trigger: &str) -> &'static str {
    if trigger.is_empty() {
        return UNKNOWN_TRIGGER;
    }
    let mut segments = trigger.splitn(3, '.');
    let (family, action) = (segments.next(), segments.next());
    KNOWN_TRIGGERS
        .iter()
        .find(|known| {
            let mut parts = known.split('.');
            parts.next() == family && parts.next() == action
        })
        .copied()
        .unwrap_or(OTHER_TRIGGER)
}

/// The results of a signed notification of a known type.
pub const STORED_RESULTS: [&str; 4] = ["accepted", "duplicate", "bad_request", "unavailable"];

/// The results of a request rejected before its type was read.
pub const REJECTED_RESULTS: [&str; 5] = [
    "bad_signature",
    "too_large",
    "timeout",
    "bad_request",
    "unavailable",
];

/// `calsync_jobs` states.
pub const JOB_STATES: [&str; 4] = ["pending", "in_flight", "retrying", "dead"];

/// `calsync_records_total` outcomes.
pub const OUTCOMES: [&str; 6] = [
    "created",
    "updated",
    "unchanged",
    "stale",
    "deleted",
    "nothing_to_delete",
];

/// `calsync_job_failures_total` classes.
pub const FAILURE_CLASSES: [&str; 3] = ["retryable", "permanent", "auth"];

/// `calsync_webhooks` statuses.
pub const WEBHOOK_STATUSES: [&str; 4] = ["active", "pause", "failing", "failed"];

/// `calsync_reconcile_passes_total` passes and results.
pub const RECONCILE_PASSES: [&str; 2] = ["full", "resumed"];
pub const RECONCILE_RESULTS: [&str; 4] = ["ok", "partial", "error", "not_leader"];
