//! What calsync counts as a meeting (issue 9): which copies of a calendar event are one meeting,
//! and what state the meeting is in given the state of its copies. Pure: no I/O.
//!
//! - **Identity.** A meeting is its iCalendar UID, plus the original start for an occurrence of a
//!   series, when the event has one; else (or for an occurrence without its original start) its
//!   event id ([`meeting_key`]). Google gives every
//!   attendee's copy the same event id and Microsoft one id per mailbox; both share the UID.
//! - **State** ([`resolve`]): live while at least one copy is live; cancelled when no copy is
//!   live and at least one is cancelled (Microsoft turns an invitee's copy `cancelled` when the
//!   organizer cancels); removed when every copy is deleted or left out by policy (`excluded`:
//!   private under `skip`, filtered, on an unselected calendar).
//! - **Content** comes from the newest copy of the winning class (the live copies of a live
//!   meeting, …); when versions tie, the organizer's copy wins, then the copy whose content the
//!   CRM already holds; remaining ties fall to the lowest (grant, event id), so every replica
//!   picks the same copy.

use crate::ids::{GrantId, MeetingKey};
use crate::nylas::Event;
use crate::store::{CopyStatus, MeetingCopy};

/// The meeting key of a live event (see the module docs).
pub fn meeting_key(event: &Event) -> MeetingKey {
    let uid = event
        .ical_uid
        .as_deref()
        .map(str::trim)
        .filter(|uid| !uid.is_empty());
    match (uid, event.original_start_time) {
        (Some(uid), Some(start)) => MeetingKey::new(format!("ical:{uid}#occurrence:{start}")),
        // An occurrence that does not say which one it is must not merge with its siblings,
        // which share the series' UID.
        (Some(_), None) if event.master_event_id.is_some() => event_key(&event.id),
        (Some(uid), None) => MeetingKey::new(format!("ical:{uid}")),
        (None, _) => event_key(&event.id),
    }
}

/// The meeting key of an event known only by its id (a deletion of an event never read).
pub fn event_key(event_id: &str) -> MeetingKey {
    MeetingKey::new(format!("event:{event_id}"))
}

/// The state of a meeting, and the copy whose content it is written with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Resolution<'a> {
    /// At least one copy is live: write this live copy's content.
    Live(&'a MeetingCopy),
    /// No copy is live and at least one is cancelled: write this copy's content as cancelled.
    Cancelled(&'a MeetingCopy),
    /// Every copy is deleted; the newest content any of them had, if any.
    Removed(Option<&'a MeetingCopy>),
}

/// The copies content may come from: those of the class that decides the meeting's state (live,
/// else cancelled, else deleted), with content.
fn candidates(copies: &[MeetingCopy]) -> (CopyStatus, Vec<&MeetingCopy>) {
    for status in [CopyStatus::Live, CopyStatus::Cancelled] {
        let class: Vec<&MeetingCopy> = copies.iter().filter(|c| c.status == status).collect();
        if !class.is_empty() {
            let with_content = class.into_iter().filter(|c| c.content.is_some()).collect();
            return (status, with_content);
        }
    }
    // Deleted and excluded copies alike keep nothing alive.
    let removed = copies.iter().filter(|c| c.content.is_some()).collect();
    (CopyStatus::Deleted, removed)
}

/// True when a copy of the meeting is left out of the CRM by policy: a meeting removed with such
/// a copy was filtered out, not cancelled, so it is archived whatever `sync.deleted_meetings`
/// says.
pub fn any_excluded(copies: &[MeetingCopy]) -> bool {
    copies
        .iter()
        .any(|copy| copy.status == CopyStatus::Excluded)
}

/// The copies tied for newest among the candidates, when they belong to more than one grant:
/// only then does it matter which one is the organizer's (and is it worth asking).
pub fn contenders(copies: &[MeetingCopy]) -> Vec<&MeetingCopy> {
    let (_, candidates) = candidates(copies);
    let newest = candidates.iter().map(|copy| copy.version).max().flatten();
    let tied: Vec<&MeetingCopy> = candidates
        .into_iter()
        .filter(|copy| copy.version == newest)
        .collect();
    let first_grant = tied.first().map(|copy| copy.grant_id.as_str());
    if tied
        .iter()
        .all(|copy| Some(copy.grant_id.as_str()) == first_grant)
    {
        return Vec::new();
    }
    tied
}

/// The meeting's state from its copies; `organizer_grants` are the grants whose copy is the
/// organizer's (consulted only to break a tie of versions); `written_hash` is the content hash
/// of what the CRM holds, so a tie the organizer cannot break keeps what is written instead of
/// flipping between equally new copies (two reps' copies of a customer's invitation).
pub fn resolve<'a>(
    copies: &'a [MeetingCopy],
    organizer_grants: &[GrantId],
    written_hash: Option<&str>,
) -> Resolution<'a> {
    let (status, candidates) = candidates(copies);
    let chosen = candidates.into_iter().min_by(|a, b| {
        let organizer = |copy: &MeetingCopy| organizer_grants.contains(&copy.grant_id);
        let written = |copy: &MeetingCopy| {
            written_hash.is_some() && copy.content_hash.as_deref() == written_hash
        };
        b.version
            .cmp(&a.version)
            .then_with(|| organizer(b).cmp(&organizer(a)))
            .then_with(|| written(b).cmp(&written(a)))
            .then_with(|| (&a.grant_id, &a.event_id).cmp(&(&b.grant_id, &b.event_id)))
    });
    match (status, chosen) {
        (CopyStatus::Live, Some(copy)) => Resolution::Live(copy),
        (CopyStatus::Cancelled, Some(copy)) => Resolution::Cancelled(copy),
        (_, chosen) => Resolution::Removed(chosen),
    }
}

#[cfg(test)]
mod tests;
