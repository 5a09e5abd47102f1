//! Everything Nylas: the API client, the lenient payload models, the grant directory (whose
//! calendar each grant is), and the interpretation of webhook notifications into store work.
//!
//! Nothing here trusts a payload's shape: every field but an event's `id` may be missing, null or
//! of an unexpected type, and an unexpected value never fails the whole payload.

pub mod client;
pub mod directory;
pub mod lenient;
pub mod models;
pub mod notification;

pub use client::{NylasClient, NylasError};
pub use models::{Envelope, Event};
