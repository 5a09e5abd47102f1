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
    pub kind: String,
    pub operation: String,
    /// The HTTP status, or `error` when no answer came.
    pub status: String,
}

/// `kind`, `operation` of a CRM request (latency).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CrmOperationLabels {
    pub kind: String,
    pub operation: String,
}

/// `operation`, `status` of a Nylas request.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NylasRequestLabels {
    /// The endpoint, e.g. `GET /v3/grants/{grant_id}/events/{event_id}`.
    pub operation: String,
    pub status: String,
}

/// `outcome` of a job.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `created | updated | unchanged | stale | deleted | nothing_to_delete`.
    pub outcome: String,
}

/// `target` of an outbound dependency (`crm:<kind>`, `nylas`).
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TargetLabels {
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
    pub kind: String,
    /// E.g. `daily_used`, `daily_limit`, `daily_remaining`.
    pub quota: String,
}

/// `status` of the Nylas webhook subscription.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WebhookLabels {
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
