//! Operator commands other than `serve`: each takes the loaded settings, does one job against
//! the store or the vendors' APIs, and prints its result. `main` only parses arguments and maps
//! results to exit codes.
//!
//! - [`dlq`]: list and requeue dead letters.

pub mod dlq;
