//! Everything Nylas: the API client, the lenient payload models and the grant directory (whose
//! calendar each grant is). Turning a notification into store work is [`crate::intake`]'s, so
//! nothing here depends on the store.
//!
//! Nothing here trusts a payload's shape: every field but an event's `id` may be missing, null or
//! of an unexpected type, and an unexpected value never fails the whole payload.

pub mod client;
pub mod directory;
pub mod lenient;
pub mod models;
pub mod notified;

pub use client::{NylasClient, NylasError};
pub use models::{Envelope, Event};
