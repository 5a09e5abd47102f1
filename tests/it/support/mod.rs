//! Test support: fake Nylas and CRM servers on `127.0.0.1:0`, payload builders, the
//! [`harness::TestApp`] builder that runs the real router and worker against them, a
//! fault-injecting store wrapper and a log capture.
//! [`harness::TestApp`] builder that runs the real router and worker against them, and fresh
//! PostgreSQL databases ([`postgres::TestDatabase`]).

pub mod binary;
pub mod burst;
pub mod captured_logs;
pub mod crm_app;
pub mod fake_crm;
pub mod fake_hubspot;
pub mod fake_nylas;
pub mod fake_pipedrive;
pub mod fake_salesforce;
pub mod fake_vendor;
pub mod faulty_store;
pub mod harness;
pub mod hostile;
pub mod openapi;
pub mod payloads;
pub mod postgres;
pub mod raw_http;
pub mod server;
pub mod small_disk;
pub mod specs;
