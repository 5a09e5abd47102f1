//! The CRM conformance suite: the same scenarios, through the whole pipeline (real router,
//! worker and store), against every adapter and its fake — `rest`, `hubspot`, `pipedrive`,
//! `salesforce`. What the scenarios hold every CRM to:
//!
//! - [`lifecycle`]: one record per event, created once however often it is notified, updated in
//!   place, kept when cancelled, soft-deleted when deleted, one write per change and none
//!   without one; a create whose answer was lost is found, not duplicated; a record deleted in
//!   the CRM is created again on the next change; with `sync.deleted_meetings = "cancel"` a
//!   deleted meeting is kept, marked cancelled, never deleted.
//! - [`limits`]: a burst throttle is waited out without counting an attempt; a spent daily
//!   allowance holds back every write until the reset without dead-lettering; an expired
//!   credential makes work wait for the operator, then resume.
//! - [`linking`]: the meeting's links follow its external attendees (never the organizer nor an
//!   internal colleague), one lookup per prospect, people created only when asked, a person
//!   deleted since its lookup never blocks a meeting.
//!
//! A scenario that does not apply to a kind (REST has no contacts nor daily cap, Salesforce no
//! burst limit) says so and returns: the tables below list every pair. Vendor-specific
//! behaviour (field mapping, vendor quirks) stays in each vendor's own module.

mod lifecycle;
mod limits;
mod linking;
mod people;
pub mod subject;

use crate::support::harness::CrmFake;

pub use crate::support::crm_app::{CALENDAR, GRANT, app, publish, publish_new};

/// `CALSYNC__CRM__LINK_CONTACTS=false` where the kind has the key.
pub fn without_linking(kind: CrmFake) -> Vec<(&'static str, &'static str)> {
    match kind {
        CrmFake::Rest => Vec::new(),
        _ => vec![("CALSYNC__CRM__LINK_CONTACTS", "false")],
    }
}

/// Meeting requests only: no contact linking (where the kind has it) and no owner lookup
/// (`crm.owner = "none"`), for scenarios that count a meeting's requests or tokens.
pub fn meetings_only(kind: CrmFake) -> Vec<(&'static str, &'static str)> {
    let mut env = without_linking(kind);
    env.push(("CALSYNC__CRM__OWNER", "none"));
    env
}

/// Says a scenario does not apply to a kind (and why), so the run log shows it.
pub fn not_applicable(kind: CrmFake, why: &str) {
    eprintln!("{kind:?}: not applicable: {why}");
}

/// One test per scenario and kind, so a failure names both.
macro_rules! conformance {
    ($module:ident, $kind:ident: $($scenario:ident),* ; paused: $($paused:ident),*) => {
        mod $module {
            use crate::support::harness::CrmFake;
            $(
                #[tokio::test]
                async fn $scenario() {
                    super::scenarios::$scenario(CrmFake::$kind).await;
                }
            )*
            $(
                #[tokio::test(start_paused = true)]
                async fn $paused() {
                    super::scenarios::$paused(CrmFake::$kind).await;
                }
            )*
        }
    };
}

/// Every scenario, by name.
mod scenarios {
    pub use super::lifecycle::{
        crud, deleted_in_the_crm, deleted_meeting_kept_as_cancelled, lost_create,
    };
    pub use super::limits::{burst_throttle, daily_cap, expired_credential};
    pub use super::linking::{
        a_person_deleted_since_its_lookup, linking_switched_off, links_follow_the_attendees,
        one_lookup_per_prospect, people_created_only_when_asked,
    };
}

macro_rules! every_kind {
    ($($module:ident: $kind:ident),*) => {
        $(
            conformance!($module, $kind:
                crud, lost_create, deleted_in_the_crm, deleted_meeting_kept_as_cancelled,
                burst_throttle, daily_cap,
                links_follow_the_attendees, one_lookup_per_prospect,
                people_created_only_when_asked, a_person_deleted_since_its_lookup,
                linking_switched_off;
                paused: expired_credential);
        )*
    };
}

every_kind!(rest: Rest, hubspot: HubSpot, pipedrive: Pipedrive, salesforce: Salesforce);
