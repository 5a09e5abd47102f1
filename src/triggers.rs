//! The Nylas notification types calsync handles: the one vocabulary shared by the notification
//! interpreter (`nylas::notification`), the webhook subscription (`commands::subscriptions`) and
//! the bounded `trigger` metric label (`telemetry::metrics`).
//!
//! Invariant: a leaf module. It depends on nothing in the crate, so the metrics (a low layer)
//! can name the handled types without depending on the Nylas client (a higher one).

/// The notification types calsync acts on (and subscribes its webhook subscriptions to).
pub const HANDLED: [&str; 6] = [
    "event.created",
    "event.updated",
    "event.deleted",
    "grant.expired",
    "grant.updated",
    "grant.deleted",
];
