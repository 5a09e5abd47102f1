//! The relevance filters of `[filter]`: pure checks of one event (and its mapped record)
//! against the settings. The checks that need to know whose calendar it is take the grant's own
//! address as an argument; fetching it is the caller's business.
//!
//! Invariant: each filter excludes exactly what its name says and nothing else; a filter that
//! is off never excludes anything.

use crate::config::FilterSettings;
use crate::crm::contacts::is_internal;
use crate::nylas::Event;
use crate::record::MeetingRecord;

use super::SkipReason;

/// Consumer mail domains: a grant on one of them does not make its domain "the company's".
const CONSUMER_DOMAINS: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "outlook.com",
    "hotmail.com",
    "live.com",
    "yahoo.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
];

/// The filters that need nothing but the event: event type, all day, free, title.
pub fn event_filters(
    filter: &FilterSettings,
    event: &Event,
    record: &MeetingRecord,
) -> Option<SkipReason> {
    if let Some(kind) = event.event_type.as_deref().map(str::trim)
        && filter
            .skip_event_types
            .iter()
            .any(|skipped| skipped.trim().eq_ignore_ascii_case(kind))
    {
        return Some(SkipReason::EventType);
    }
    if filter.skip_all_day && record.all_day {
        return Some(SkipReason::AllDay);
    }
    // `busy` null means busy.
    if filter.skip_free && event.busy == Some(false) {
        return Some(SkipReason::Free);
    }
    let title = event.title.as_deref().unwrap_or("");
    if filter
        .skip_titles
        .iter()
        .any(|pattern| pattern.matches(title))
    {
        return Some(SkipReason::Title);
    }
    None
}

/// True when the grant's owner (`owner_email`, trimmed and lowercased) declined the event.
pub fn declined_by_owner(event: &Event, owner_email: &str) -> bool {
    event.participants.iter().any(|participant| {
        let email = participant
            .email
            .as_deref()
            .map(|email| email.trim().to_lowercase());
        let status = participant
            .status
            .as_deref()
            .map(|status| status.trim().to_ascii_lowercase());
        email.as_deref() == Some(owner_email) && status.as_deref() == Some("no")
    })
}

/// True when at least one attendee (or the organizer) is outside `internal_domains` and outside
/// the domain of the grant's own address (unless that is a consumer mail domain). Rooms are
/// already gone from the record's attendees.
pub fn has_external_attendee(
    record: &MeetingRecord,
    internal_domains: &[String],
    owner_email: Option<&str>,
) -> bool {
    let company = company_domains(internal_domains, owner_email);
    let attendees = record
        .attendees
        .iter()
        .map(|attendee| attendee.email.as_str());
    let mut people = attendees.chain(record.organizer_email.as_deref());
    people.any(|email| Some(email) != owner_email && !is_internal(email, &company))
}

/// The company's domains: `internal_domains`, and the domain of the calendar owner's address
/// unless it is a consumer mail domain.
pub fn company_domains(internal_domains: &[String], owner_email: Option<&str>) -> Vec<String> {
    let mut company: Vec<String> = internal_domains.to_vec();
    if let Some((_, domain)) = owner_email.and_then(|email| email.rsplit_once('@'))
        && !CONSUMER_DOMAINS.contains(&domain)
    {
        company.push(domain.to_owned());
    }
    company
}
