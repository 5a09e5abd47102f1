//! What backfill and reconciliation share when they sweep a grant's calendars: walking the Nylas
//! lists ([`listing`]), the time [`Window`] a sweep reads, recurring series in listed pages
//! ([`series`]), the reconciliation watermarks a backfill also seeds ([`watermark`]) and the
//! escaping of ids inside store cursor names ([`name_component`]).
//!
//! Layering: this module sits below `backfill` and `background::reconcile` (both use it) and
//! never depends on either, nor on the application wiring; its inputs are the Nylas client, the
//! store and settings passed in explicitly.
//!
//! Invariants: cursor names built from ids are unambiguous (`/` and `%` inside ids are
//! percent-encoded, so the grant `a/b` with calendar `c` never collides with grant `a` and
//! calendar `b/c`).

pub mod listing;
pub mod series;
pub mod watermark;
mod window;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

pub use window::{Window, rfc3339};

/// Characters escaped in a name component.
const COMPONENT: &AsciiSet = &CONTROLS.add(b'/').add(b'%');

/// An id made safe to place between `/` in a cursor name (`/` and `%` percent-encoded).
pub fn name_component(id: &str) -> String {
    utf8_percent_encode(id, COMPONENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_components_escape_separators_and_escapes_only() {
        assert_eq!(name_component("g%"), "g%25");
        assert_eq!(name_component("x/y"), "x%2Fy");
        assert_eq!(
            name_component("team@group.calendar.google.com"),
            "team@group.calendar.google.com"
        );
    }
}
