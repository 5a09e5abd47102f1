//! Test support: fake Nylas and CRM servers on `127.0.0.1:0`, payload builders, the
//! [`harness::TestApp`] builder that runs the real router and worker against them, and fresh
//! PostgreSQL databases ([`postgres::TestDatabase`]).

pub mod binary;
pub mod fake_crm;
pub mod fake_nylas;
pub mod harness;
pub mod payloads;
pub mod postgres;
pub mod server;
