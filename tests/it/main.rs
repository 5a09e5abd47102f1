//! calsync's integration tests: one binary, one module per area. Tests drive the real router or
//! the real binary against fake Nylas and CRM servers bound to `127.0.0.1:0`.

// Test code: a failed unwrap is a failed test with its message (the lints deny it elsewhere).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)] // Shared helpers: not every test module uses every one.
mod support;

mod backfill;
mod bounds;
mod causes;
mod coalescing;
mod configuration;
mod crm_conformance;
mod demo;
mod deployment;
mod durability;
mod failures;
mod fidelity;
mod fuzz;
mod hubspot;
mod hygiene;
mod inbound;
mod latency;
mod logs;
mod meetings;
mod operations;
mod outbound;
mod pipedrive;
mod pipeline;
mod policy;
mod reconcile;
mod replicas;
mod salesforce;
mod series;
mod shutdown;
mod store_conformance;
