//! An app writing to one of the fake CRMs, as the CRM tests (the conformance suite and each
//! vendor's own) start it, and publishing an event to it.

use serde_json::Value;

use super::harness::{CrmFake, TestApp};
use super::payloads::{envelope, event};

/// The grant of the CRM tests' events.
pub const GRANT: &str = "grant-1";

/// The calendar of the CRM tests' events.
pub const CALENDAR: &str = "team@group.calendar.google.com";

/// An app writing to the fake of `kind`, with `seller.com` as the internal domain and `env` on
/// top; its clock follows tokio's when `paused`.
pub async fn app(kind: CrmFake, env: &[(&str, &str)], paused: bool) -> TestApp {
    let mut builder = TestApp::builder()
        .crm(kind)
        .env("CALSYNC__SYNC__INTERNAL_DOMAINS", "seller.com");
    for (key, value) in env {
        builder = builder.env(key, value);
    }
    if paused {
        builder = builder.tokio_clock();
    }
    builder.spawn().await
}

/// Puts the event in Nylas and notifies calsync of it.
pub async fn publish(app: &TestApp, notification: &str, trigger: &str, event: &Value) {
    app.nylas.put_event(event.clone());
    app.notify(&envelope(notification, trigger, event.clone()))
        .await;
}

/// Publishes a new event `id` titled `title` (`event.created`, version 100).
pub async fn publish_new(app: &TestApp, notification: &str, id: &str, title: &str) {
    let created = event(id, GRANT, CALENDAR, title, 100);
    publish(app, notification, "event.created", &created).await;
}
