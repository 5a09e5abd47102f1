//! The operator commands other than `serve`. Their logic lives here, in the library, so tests run
//! them in process as well as through the binary; `main` only parses arguments, calls them with
//! stdout as the output, and maps their results to exit codes.
//!
//! - [`check`]: validate the configuration and reach Nylas, the CRM and the store.
//! - [`dlq`]: list and requeue dead letters.
//! - [`replay`]: re-enqueue logged notifications.
//! - [`subscriptions`]: manage the Nylas webhook subscription (`calsync webhook
//!   create|list|rotate-secret|delete`).
//! - [`endpoint_test`]: `calsync webhook test`: sign and post a notification for a real event to
//!   the deployment's notification endpoint, and follow its job.
//! - [`table`]: the tables they print (cells escaped and bounded).
//!
//! Invariants: each command writes its human-readable report to the `Write` it is given and
//! returns a typed result; a secret is written only by the commands whose purpose is to hand it to
//! the operator (`webhook create`, `webhook rotate-secret`), exactly once; everything else shows
//! secrets redacted; text from outside (ids, URLs, errors) is printed escaped
//! ([`crate::printable`]), so it cannot drive the terminal.

pub mod check;
pub mod dlq;
pub mod endpoint_test;
pub mod replay;
pub mod subscriptions;
pub mod table;
