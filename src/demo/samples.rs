//! The demo's sample data, kept in the repository (`src/demo/samples/notifications.json`): the
//! notifications Nylas would send for a rep's week — a create, an all-day event with HTML notes,
//! an update, a redelivery, an update that changes nothing the record shows, a cancellation and
//! a delete — each with a sentence saying what happened on the calendar.
//!
//! Invariant: every sample is a notification exactly as Nylas sends it (a CloudEvents envelope
//! with the event, or the ids of a deleted one); the demo signs and posts it unchanged.

use serde::Deserialize;
use serde_json::Value;

/// The sample notifications, in the order they are posted.
const NOTIFICATIONS: &str = include_str!("samples/notifications.json");

/// One step of the demo.
#[derive(Debug, Clone, Deserialize)]
pub struct Step {
    /// What happened on the calendar.
    pub note: String,
    /// What Nylas posts about it.
    pub notification: Value,
}

impl Step {
    /// The notification's `type`.
    pub fn trigger(&self) -> &str {
        self.notification["type"].as_str().unwrap_or("?")
    }

    /// The notification's id.
    pub fn notification_id(&self) -> &str {
        self.notification["id"].as_str().unwrap_or("?")
    }

    /// The event the notification is about.
    pub fn event_id(&self) -> &str {
        self.notification["data"]["object"]["id"]
            .as_str()
            .unwrap_or("?")
    }
}

/// The steps.
pub fn load() -> Result<Vec<Step>, serde_json::Error> {
    serde_json::from_str(NOTIFICATIONS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intake::{Interpretation, interpret};
    use crate::nylas::Envelope;

    #[test]
    fn every_sample_is_a_notification_calsync_stores() {
        let steps = load().unwrap();
        assert!(steps.len() >= 5);
        let mut triggers: Vec<&str> = steps.iter().map(Step::trigger).collect();
        for step in &steps {
            let body = serde_json::to_vec(&step.notification).unwrap();
            let envelope: Envelope = serde_json::from_slice(&body).unwrap();
            let stored = interpret(envelope, body, jiff::Timestamp::UNIX_EPOCH).unwrap();
            assert!(matches!(stored, Interpretation::Store(_)), "{}", step.note);
            assert!(!step.note.is_empty());
        }
        triggers.dedup();
        for trigger in ["event.created", "event.updated", "event.deleted"] {
            assert!(triggers.contains(&trigger), "{trigger}");
        }
        let cancelled = steps
            .iter()
            .any(|step| step.notification["data"]["object"]["status"] == "cancelled");
        let all_day = steps
            .iter()
            .any(|step| step.notification["data"]["object"]["when"]["object"] == "datespan");
        assert!(cancelled && all_day);
    }
}
