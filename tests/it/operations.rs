//! Operations (issue 3, items 8, 10–12): the metrics a realistic run exports (and that the
//! README documents), notification-log pruning, `replay`, the webhook commands and status
//! monitor, and `check` — in process and through the real binary.

mod check;
mod endpoint_test;
mod metrics;
mod replay;
mod subscriptions;

use calsync::intake::{Interpretation, interpret};
use calsync::nylas::Envelope;
use calsync::store::{IngestOutcome, Store};
use jiff::Timestamp;
use serde_json::Value;

/// Logs a notification as the edge would have, received at `received_at` (so tests choose the
/// receipt times that pruning and replay windows depend on).
pub async fn log_notification(store: &dyn Store, envelope: &Value, received_at: Timestamp) {
    let body = serde_json::to_vec(envelope).unwrap();
    let parsed: Envelope = serde_json::from_slice(&body).unwrap();
    let Interpretation::Store(incoming) = interpret(parsed, body, received_at).unwrap() else {
        panic!("the notification is ignored by calsync");
    };
    let outcomes = store.ingest(&[*incoming], received_at).await.unwrap();
    assert_eq!(outcomes, vec![IngestOutcome::Accepted]);
}

/// `now - hours`.
pub fn hours_ago(hours: i64) -> Timestamp {
    Timestamp::now() - jiff::SignedDuration::from_hours(hours)
}
