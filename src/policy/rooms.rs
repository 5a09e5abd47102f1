//! Rooms and groups are not people: meeting rooms and other booked resources are taken out of
//! the attendees (so they are never linked to, nor created as, CRM contacts), and a room's name
//! becomes the location of an event that has none.
//!
//! A resource is an attendee whose address is a Google resource calendar
//! (`…@resource.calendar.google.com`), or one of the event's Nylas `resources`.

use std::collections::HashSet;

use crate::nylas::Event;
use crate::record::MeetingRecord;

/// The domain of Google's resource calendars (rooms, equipment).
pub const GOOGLE_RESOURCE_DOMAIN: &str = "resource.calendar.google.com";

/// True when `email` (trimmed, lowercased) is a Google resource calendar.
pub fn is_google_resource(email: &str) -> bool {
    email
        .rsplit_once('@')
        .is_some_and(|(_, domain)| domain == GOOGLE_RESOURCE_DOMAIN)
}

/// Drops resources from the attendees; fills an empty location with the first room's name.
pub fn set_rooms_aside(event: &Event, record: &mut MeetingRecord) {
    let booked: HashSet<String> = event
        .resources
        .iter()
        .filter_map(|resource| resource.email.as_deref())
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .collect();
    let is_room = |email: &str| is_google_resource(email) || booked.contains(email);
    let mut room_names: Vec<String> = Vec::new();
    let participant_names = event.participants.iter().filter_map(|participant| {
        let email = participant.email.as_deref()?.trim().to_lowercase();
        is_room(&email).then_some(participant.name.as_deref()?)
    });
    let resource_names = event
        .resources
        .iter()
        .filter_map(|resource| resource.name.as_deref());
    for name in resource_names.chain(participant_names) {
        let name = name.trim();
        if !name.is_empty() && !room_names.iter().any(|known| known == name) {
            room_names.push(name.to_owned());
        }
    }
    record
        .attendees
        .retain(|attendee| !is_room(&attendee.email));
    if record.meeting_location.is_none() && !room_names.is_empty() {
        record.meeting_location = Some(room_names.join(", "));
    }
}
