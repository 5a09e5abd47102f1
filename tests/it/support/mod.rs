//! Test support: fake Nylas and CRM servers on `127.0.0.1:0`, payload builders, and the
//! [`harness::TestApp`] builder that runs the real router and worker against them.

pub mod binary;
pub mod fake_crm;
pub mod fake_hubspot;
pub mod fake_nylas;
pub mod fake_pipedrive;
pub mod harness;
pub mod openapi;
pub mod payloads;
pub mod server;
