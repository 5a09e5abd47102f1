//! Whose meeting it is (`crm.owner`): the email of the rep the CRM record belongs to. Mapping
//! that email to a CRM user is each adapter's business (`crm::owners`).
//!
//! Invariants: `organizer` gives the organizer when the organizer is a colleague (at
//! `sync.internal_domains`, at the company domain of the calendar owner's address, or the
//! calendar owner), else the calendar owner; `grant` always gives the calendar owner; `none`
//! gives nothing. Emails are trimmed and lowercased.

use crate::config::OwnerRule;
use crate::crm::contacts::is_internal;
use crate::record::MeetingRecord;

use super::relevance::company_domains;

/// The owner's email for `record`, whose calendar belongs to `grant_email`.
pub fn owner_email(
    rule: OwnerRule,
    record: &MeetingRecord,
    internal_domains: &[String],
    grant_email: Option<&str>,
) -> Option<String> {
    match rule {
        OwnerRule::None => None,
        OwnerRule::Grant => grant_email.map(str::to_owned),
        OwnerRule::Organizer => {
            let company = company_domains(internal_domains, grant_email);
            let organizer = record.organizer_email.as_deref();
            match organizer {
                Some(email) if Some(email) == grant_email || is_internal(email, &company) => {
                    Some(email.to_owned())
                }
                _ => grant_email.map(str::to_owned),
            }
        }
    }
}
