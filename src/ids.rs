//! The identifiers calsync passes between its parts, each its own type: an event id cannot be
//! passed where a grant id, a CRM record id or a target is expected (the compiler refuses a
//! swapped pair of arguments).
//!
//! - [`EventId`]: the Nylas event id — the key of a job, of the sync state and of the CRM record
//!   (the store's `record_key` column, the record's `external_event_id` field).
//! - [`GrantId`]: the Nylas grant (a connected account) an event was read through.
//! - [`NotificationId`]: the id Nylas gives a notification (deduplication key of the log).
//! - [`CrmRecordId`]: the CRM's own id for the record calsync wrote.
//! - [`MeetingKey`]: the identity of a meeting across the grants that hold a copy of it (the
//!   iCalendar UID, per occurrence; see `crate::meeting::meeting_key`). Not an event id: the
//!   store binds each meeting key to the event id its record is written under.
//! - [`TargetId`]: the identity of the configured CRM target (kind and endpoint, e.g.
//!   `hubspot:https://api.hubapi.com/`) that scopes the sync state, so pointing calsync at
//!   another CRM never reuses record ids from the previous one.
//!
//! Invariants: each is a transparent wrapper of the string it was made from (serde reads and
//! writes the bare string; [`Display`](std::fmt::Display) shows it unchanged, so logs and
//! outputs are the same as with plain strings); none dereferences to `str`: code that needs the
//! text asks for it with `as_str`, which marks the places where an id leaves its type (the store
//! boundary, URLs, log fields). `Default` is the empty id, for partly filled values (a
//! `SyncState { target, record_key, ..Default::default() }`). No validation happens here: the values come from Nylas, the CRM
//! or the store, which each check what they accept.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Defines one id type: a transparent newtype over `String`.
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The id made from its text.
            pub fn new(id: impl Into<String>) -> Self {
                $name(id.into())
            }

            /// The id's text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_owned())
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

id_type! {
    /// A Nylas event id: the key of a job, of the sync state and of the CRM record.
    EventId
}

id_type! {
    /// A Nylas grant id: the connected account an event was read through.
    GrantId
}

id_type! {
    /// The id Nylas gives a notification; the notification log deduplicates on it.
    NotificationId
}

id_type! {
    /// The CRM's id for a record calsync wrote.
    CrmRecordId
}

id_type! {
    /// The identity of a meeting across grants (`ical:<uid>…` or `event:<id>`); the meeting
    /// ledger binds it to the event id its CRM record is keyed by.
    MeetingKey
}

id_type! {
    /// The identity of the configured CRM target (kind and endpoint) that scopes the sync state.
    TargetId
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_serializes_as_its_bare_string_and_reads_back() {
        let id = EventId::new("evt/1+x");
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, r#""evt/1+x""#);
        assert_eq!(serde_json::from_str::<EventId>(&json).unwrap(), id);
    }

    #[test]
    fn an_id_displays_its_text_unchanged() {
        let id = CrmRecordId::from("00U000000000999AAA");
        assert_eq!(id.to_string(), "00U000000000999AAA");
        assert_eq!(id.as_str(), "00U000000000999AAA");
        assert_eq!(id, "00U000000000999AAA");
        assert_eq!(id.into_string(), "00U000000000999AAA");
    }
}
