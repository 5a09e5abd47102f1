//! Pre-signed, distinct webhook requests: the load generator only writes bytes.
//!
//! Each request is a complete HTTP/1.1 POST (request line, headers, body) built before the
//! clock starts, so neither JSON serialisation nor HMAC signing is measured. Every body is a
//! distinct `event.updated` notification of about 1 KB (its own notification id and event id,
//! prefixed by a per-run label so two targets never share ids), signed with [`SECRET`].

use calsync::http::verify::sign;
use serde_json::{Value, json};

/// The webhook secret every target verifies with.
pub const SECRET: &str = "whsec_bench_4f5e6d7c";
/// The webhook path (calsync's default `server.webhook_path`).
pub const WEBHOOK_PATH: &str = "/webhooks/nylas";

/// `count` ready-to-send requests for `host`, ids prefixed by `label`.
pub fn requests(label: &str, count: usize, host: &str) -> Vec<Vec<u8>> {
    (0..count)
        .map(|index| {
            let body = serde_json::to_vec(&notification(label, index))
                .unwrap_or_else(|_| unreachable!("a JSON value serialises"));
            let signature = sign(SECRET, &body);
            let mut request = format!(
                "POST {WEBHOOK_PATH} HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json\r\n\
                 x-nylas-signature: {signature}\r\ncontent-length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            request.extend_from_slice(&body);
            request
        })
        .collect()
}

/// The mean body size of `requests` in bytes (for the report).
pub fn mean_body_bytes(requests: &[Vec<u8>]) -> usize {
    let total: usize = requests
        .iter()
        .map(|request| {
            let headers_end = request
                .windows(4)
                .position(|window| window == b"\r\n\r\n")
                .map_or(0, |at| at + 4);
            request.len() - headers_end
        })
        .sum();
    total / requests.len().max(1)
}

/// An `event.updated` notification carrying a complete, realistic event.
fn notification(label: &str, index: usize) -> Value {
    let event_id = format!("evt-{label}-{index}");
    json!({
        "specversion": "1.0",
        "type": "event.updated",
        "source": "/google/events/realtime",
        "id": format!("ntf-{label}-{index}"),
        "time": 1_782_000_000,
        "webhook_delivery_attempt": 1,
        "data": {"application_id": "app-bench", "object": {
            "id": event_id,
            "object": "event",
            "grant_id": "grant-bench",
            "calendar_id": "primary",
            "title": format!("Pricing call {index}"),
            "description": "<p>Agenda:<br>pricing, rollout plan, security review, next steps</p>",
            "status": "confirmed",
            "busy": true,
            "ical_uid": format!("{event_id}@example.com"),
            "created_at": 1_780_000_000,
            "updated_at": 1_780_000_000 + index as i64,
            "when": {
                "object": "timespan",
                "start_time": 1_782_900_000,
                "end_time": 1_782_902_700,
                "start_timezone": "America/Los_Angeles",
                "end_timezone": "America/Los_Angeles"
            },
            "participants": [
                {"email": "buyer@prospect.com", "name": "Pat Buyer", "status": "yes"},
                {"email": "cfo@prospect.com", "name": "Casey Finance", "status": "maybe"},
                {"name": "Room 4"}
            ],
            "organizer": {"email": "rep@seller.com", "name": "Rita Rep"},
            "conferencing": {"provider": "Zoom Meeting", "details": {"url": "https://zoom.us/j/1234567890"}},
            "location": "Zoom",
            "reminders": {"use_default": true, "overrides": []}
        }}
    })
}
