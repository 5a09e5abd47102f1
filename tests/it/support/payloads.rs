//! Builders for Nylas payloads: events and signed notification envelopes.

use serde_json::{Value, json};

/// A timed event (`timespan`) with sensible defaults.
pub fn event(id: &str, grant: &str, calendar: &str, title: &str, updated_at: i64) -> Value {
    json!({
        "id": id,
        "object": "event",
        "grant_id": grant,
        "calendar_id": calendar,
        "title": title,
        "description": "<p>Agenda:<br>pricing</p>",
        "status": "confirmed",
        "busy": true,
        "ical_uid": format!("{id}@example.com"),
        "created_at": 1_780_000_000,
        "updated_at": updated_at,
        "when": {
            "object": "timespan",
            "start_time": 1_782_900_000,
            "end_time": 1_782_902_700,
            "start_timezone": "America/Los_Angeles",
            "end_timezone": "America/Los_Angeles"
        },
        "participants": [
            {"email": "Buyer@Prospect.com ", "name": "Pat Buyer", "status": "yes"},
            {"name": "Room 4"}
        ],
        "organizer": {"email": "rep@seller.com", "name": "Rita Rep"},
        "conferencing": {"provider": "Zoom Meeting", "details": {"url": "https://zoom.us/j/1"}},
        "location": "Zoom",
        "unknown_future_field": {"nested": true}
    })
}

/// A notification envelope around `object`.
pub fn envelope(notification_id: &str, trigger: &str, object: Value) -> Value {
    json!({
        "specversion": "1.0",
        "type": trigger,
        "source": "/google/events/realtime",
        "id": notification_id,
        "time": 1_782_000_000,
        "webhook_delivery_attempt": 1,
        "data": {"application_id": "app-1", "object": object}
    })
}

/// The object of an `event.deleted` notification: ids only.
pub fn deleted_object(id: &str, grant: &str, calendar: &str) -> Value {
    json!({"id": id, "grant_id": grant, "calendar_id": calendar, "object": "event"})
}

/// A timed event starting at `start` (Unix seconds, 30 minutes long) with version `updated_at`.
pub fn event_at(id: &str, grant: &str, calendar: &str, start: i64, updated_at: i64) -> Value {
    let mut value = event(id, grant, calendar, &format!("Meeting {id}"), updated_at);
    value["when"] = json!({
        "object": "timespan",
        "start_time": start,
        "end_time": start + 1_800,
        "start_timezone": "UTC",
        "end_timezone": "UTC"
    });
    value
}

/// The envelope of a grant lifecycle notification (`grant.expired`, `grant.updated`, …).
pub fn grant_envelope(notification_id: &str, trigger: &str, grant: &str) -> Value {
    envelope(
        notification_id,
        trigger,
        json!({"grant_id": grant, "code": 25013, "provider": "google"}),
    )
}
