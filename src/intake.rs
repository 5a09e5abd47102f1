//! Intake: the interpretation of a verified Nylas notification envelope into store work (a
//! notification to log, the job and grant change it causes). It sits between [`crate::nylas`]
//! (the envelope's model) and [`crate::store`] (the work), so that `nylas` does not depend on
//! the store; the webhook edge, `replay` and the demo use it.
//!
//! Routing is on the first two dot-separated segments of `type`; any further suffix
//! (`.transformed`, `.truncated`, …) means "the object may be incomplete", so the job is marked
//! to fetch the event. `event.created` and `event.updated` are the same thing: an upsert keyed by
//! the event id. Triggers calsync does not handle are acknowledged and ignored, not stored.
//!
//! Only the object's summary (ids, `updated_at`, whether `when` is an object) is read here; an
//! event's object becomes the job's payload as the JSON text it arrived in.

use jiff::Timestamp;

use crate::ids::{EventId, GrantId, NotificationId};
use crate::store::{
    GrantChange, IncomingNotification, JobAction, JobRequest, JobSource, PayloadOrigin, PayloadText,
};

use crate::nylas::models::Envelope;
use crate::nylas::notified::{NotifiedObject, ObjectSummary};

/// The notification types calsync acts on (and subscribes its webhooks to).
pub const HANDLED_TRIGGERS: [&str; 6] = crate::triggers::HANDLED;

/// What a trigger type means to calsync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TriggerKind {
    /// `event.created`, `event.updated`.
    EventUpsert,
    /// `event.deleted`.
    EventDeleted,
    /// `grant.expired`, `grant.updated`, `grant.deleted`.
    Grant(GrantChange),
    /// Anything else (`message.*`, `calendar.*`, …).
    Unhandled,
}

/// A parsed trigger type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Trigger {
    /// What the trigger is about.
    pub kind: TriggerKind,
    /// The type carried a suffix after the first two segments.
    pub suffixed: bool,
}

/// Parses a notification `type`.
pub fn parse_trigger(trigger: &str) -> Trigger {
    let mut segments = trigger.split('.');
    let family = segments.next().unwrap_or_default();
    let action = segments.next().unwrap_or_default();
    let suffixed = segments.next().is_some();
    let kind = match (family, action) {
        ("event", "created" | "updated") => TriggerKind::EventUpsert,
        ("event", "deleted") => TriggerKind::EventDeleted,
        ("grant", "expired") => TriggerKind::Grant(GrantChange::Expired),
        ("grant", "updated") => TriggerKind::Grant(GrantChange::Updated),
        ("grant", "deleted") => TriggerKind::Grant(GrantChange::Deleted),
        _ => TriggerKind::Unhandled,
    };
    Trigger { kind, suffixed }
}

/// Why a signed notification cannot be used (the edge answers 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotificationError {
    /// The envelope has no `id`.
    #[error("the notification has no id")]
    MissingId,
    /// The envelope has no `data.object`.
    #[error("the {trigger} notification has no data.object")]
    MissingObject {
        /// The notification's type.
        trigger: String,
    },
    /// The event object has no `id`.
    #[error("the {trigger} notification's object has no id")]
    MissingEventId {
        /// The notification's type.
        trigger: String,
    },
    /// The object has no `grant_id`.
    #[error("the {trigger} notification's object has no grant_id")]
    MissingGrantId {
        /// The notification's type.
        trigger: String,
    },
}

/// The result of interpreting an envelope.
#[derive(Debug, Clone, PartialEq)]
pub enum Interpretation {
    /// Store it (and apply its job or grant change).
    Store(Box<IncomingNotification>),
    /// A trigger calsync does not handle: acknowledge, do not store.
    Ignored,
}

/// Turns a verified envelope (and its decompressed body, kept for replay) into store work. The
/// envelope is consumed: an event's object becomes the job's payload as the text it arrived in.
pub fn interpret(
    envelope: Envelope,
    body: Vec<u8>,
    received_at: Timestamp,
) -> Result<Interpretation, NotificationError> {
    if envelope.id.trim().is_empty() {
        return Err(NotificationError::MissingId);
    }
    let trigger = parse_trigger(&envelope.trigger);
    if trigger.kind == TriggerKind::Unhandled {
        return Ok(Interpretation::Ignored);
    }
    let Envelope {
        id,
        trigger: trigger_type,
        data,
        ..
    } = envelope;
    let Some(object) = data.object.filter(|object| object.summary().is_object) else {
        return Err(NotificationError::MissingObject {
            trigger: trigger_type,
        });
    };
    let Some(grant_id) = text_field(object.summary().grant_id.as_deref()).map(GrantId::from) else {
        return Err(NotificationError::MissingGrantId {
            trigger: trigger_type,
        });
    };
    let notification_id = NotificationId::from(id);
    let mut notification = IncomingNotification {
        id: notification_id.clone(),
        trigger: trigger_type,
        grant_id: Some(grant_id.clone()),
        event_id: None,
        received_at,
        body,
        job: None,
        grant_change: None,
    };
    match trigger.kind {
        TriggerKind::EventUpsert | TriggerKind::EventDeleted => {
            let Some(event_id) = text_field(object.summary().id.as_deref()).map(EventId::from)
            else {
                return Err(NotificationError::MissingEventId {
                    trigger: notification.trigger,
                });
            };
            notification.event_id = Some(event_id.clone());
            let job = event_job(trigger, event_id, grant_id, object, notification_id);
            notification.job = Some(job);
        }
        TriggerKind::Grant(change) => notification.grant_change = Some(change),
        TriggerKind::Unhandled => return Ok(Interpretation::Ignored),
    }
    Ok(Interpretation::Store(Box::new(notification)))
}

/// The job an event notification causes (the object becomes its payload).
fn event_job(
    trigger: Trigger,
    event_id: EventId,
    grant_id: GrantId,
    object: NotifiedObject,
    notification_id: NotificationId,
) -> JobRequest {
    let ObjectSummary {
        calendar_id,
        updated_at,
        has_when,
        ..
    } = object.summary();
    let calendar_id = text_field(calendar_id.as_deref());
    let (action, payload, origin, version) = if trigger.kind == TriggerKind::EventDeleted {
        (JobAction::Delete, None, PayloadOrigin::None, None)
    } else {
        let origin = if !trigger.suffixed && *has_when {
            PayloadOrigin::NotificationComplete
        } else {
            PayloadOrigin::NotificationPartial
        };
        let version = *updated_at;
        let payload = PayloadText::from(object.into_raw());
        (JobAction::Upsert, Some(payload), origin, version)
    };
    JobRequest {
        record_key: event_id,
        grant_id,
        calendar_id,
        action,
        payload,
        origin,
        version,
        force_fetch: false,
        source: JobSource::Webhook,
        notification_id: Some(notification_id),
    }
}

/// A string field of the object, trimmed, when not empty.
fn text_field(field: Option<&str>) -> Option<String> {
    field
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(json: &str) -> Envelope {
        serde_json::from_str(json).unwrap()
    }

    fn stored(json: &str) -> IncomingNotification {
        match interpret(
            envelope(json),
            json.as_bytes().to_vec(),
            Timestamp::UNIX_EPOCH,
        ) {
            Ok(Interpretation::Store(notification)) => *notification,
            other => panic!("expected a stored notification, got {other:?}"),
        }
    }

    #[test]
    fn triggers_route_on_two_segments() {
        assert_eq!(
            parse_trigger("event.created").kind,
            TriggerKind::EventUpsert
        );
        assert_eq!(
            parse_trigger("event.updated").kind,
            TriggerKind::EventUpsert
        );
        let transformed = parse_trigger("event.updated.transformed");
        assert_eq!(transformed.kind, TriggerKind::EventUpsert);
        assert!(transformed.suffixed);
        assert_eq!(
            parse_trigger("event.deleted").kind,
            TriggerKind::EventDeleted
        );
        assert_eq!(
            parse_trigger("grant.expired").kind,
            TriggerKind::Grant(GrantChange::Expired)
        );
        assert_eq!(
            parse_trigger("message.created").kind,
            TriggerKind::Unhandled
        );
        assert_eq!(parse_trigger("event").kind, TriggerKind::Unhandled);
    }

    #[test]
    fn a_complete_update_is_an_upsert_with_its_version() {
        let notification = stored(
            r#"{"id":"n1","type":"event.updated","data":{"object":{"id":"e1","grant_id":"g1",
            "calendar_id":"c1","updated_at":1700000000,"when":{"object":"time","time":1}}}}"#,
        );
        let job = notification.job.unwrap();
        assert_eq!(job.record_key, "e1");
        assert_eq!(job.grant_id, "g1");
        assert_eq!(job.calendar_id.as_deref(), Some("c1"));
        assert_eq!(job.action, JobAction::Upsert);
        assert_eq!(job.origin, PayloadOrigin::NotificationComplete);
        assert_eq!(job.version, Some(1_700_000_000));
        assert_eq!(job.notification_id, Some("n1".into()));
    }

    #[test]
    fn the_event_object_becomes_the_payload_as_sent() {
        let object = r#"{ "id": "e1", "grant_id": "g1",
            "when": {"object": "time", "time": 1.50}, "title": "Caf\u00e9" }"#;
        let notification = stored(&format!(
            r#"{{"id":"n1","type":"event.updated","data":{{"object":{object}}}}}"#
        ));
        let payload = notification.job.unwrap().payload.unwrap();
        assert_eq!(payload.as_str(), object);
    }

    #[test]
    fn suffixes_and_missing_when_mark_the_payload_partial() {
        let transformed = stored(
            r#"{"id":"n1","type":"event.created.transformed","data":{"object":{"id":"e1",
            "grant_id":"g1","when":{"time":1}}}}"#,
        );
        assert_eq!(
            transformed.job.unwrap().origin,
            PayloadOrigin::NotificationPartial
        );
        let no_when = stored(
            r#"{"id":"n2","type":"event.created","data":{"object":{"id":"e1","grant_id":"g1"}}}"#,
        );
        assert_eq!(
            no_when.job.unwrap().origin,
            PayloadOrigin::NotificationPartial
        );
    }

    #[test]
    fn deletes_carry_no_payload() {
        let notification = stored(
            r#"{"id":"n1","type":"event.deleted","data":{"object":{"id":"e1","grant_id":"g1",
            "calendar_id":null,"object":"event"}}}"#,
        );
        let job = notification.job.unwrap();
        assert_eq!(job.action, JobAction::Delete);
        assert_eq!(job.calendar_id, None);
        assert_eq!(job.payload, None);
    }

    #[test]
    fn grant_notifications_change_the_grant() {
        let notification =
            stored(r#"{"id":"n1","type":"grant.expired","data":{"object":{"grant_id":"g1"}}}"#);
        assert_eq!(notification.grant_change, Some(GrantChange::Expired));
        assert_eq!(notification.job, None);
    }

    #[test]
    fn unusable_event_notifications_are_errors() {
        let cases = [
            (
                r#"{"id":"n1","type":"event.created","data":{}}"#,
                "no data.object",
            ),
            (
                r#"{"id":"n1","type":"event.created","data":{"object":{"grant_id":"g"}}}"#,
                "no id",
            ),
            (
                r#"{"id":"n1","type":"event.created","data":{"object":{"id":"","grant_id":"g"}}}"#,
                "no id",
            ),
            (
                r#"{"id":"n1","type":"event.deleted","data":{"object":{"id":"e"}}}"#,
                "no grant_id",
            ),
            (r#"{"id":" ","type":"event.deleted","data":{}}"#, "no id"),
        ];
        for (json, expected) in cases {
            let error = interpret(envelope(json), Vec::new(), Timestamp::UNIX_EPOCH).unwrap_err();
            assert!(error.to_string().contains(expected), "{json}: {error}");
        }
    }

    #[test]
    fn unhandled_triggers_are_ignored_even_without_an_object() {
        let result = interpret(
            envelope(r#"{"id":"n1","type":"message.created","data":{}}"#),
            Vec::new(),
            Timestamp::UNIX_EPOCH,
        );
        assert_eq!(result, Ok(Interpretation::Ignored));
    }
}
