//! Field limits: every text value fits the target's documented length, so an over-long title,
//! location or description is cut — never refused, never a dead letter.
//!
//! Invariants: a cut happens on a character boundary (never inside a UTF-8 sequence) and ends
//! with `…`; a value within its limit is unchanged; [`fit_notes`] keeps everything around the
//! notes (footers, marker lines) whole and cuts only the notes.
//!
//! The limits, in characters (Unicode scalar values), per target:
//! - generic REST (calsync's contract): `meeting_subject` and `meeting_location`
//!   [`REST_SHORT_TEXT`], `notes` [`REST_NOTES`];
//! - HubSpot: any property value [`HUBSPOT_PROPERTY`] (HubSpot's documented cap for property
//!   values);
//! - Pipedrive: `subject` and `location` [`PIPEDRIVE_SHORT_TEXT`], `note` [`PIPEDRIVE_NOTE`]
//!   (the "up to 65k characters" of Pipedrive's long-text fields);
//! - Salesforce counts UTF-16 code units and keeps its own limits (`salesforce::fields`).

use std::borrow::Cow;

use crate::record::MeetingRecord;

/// Generic REST: `meeting_subject` and `meeting_location`.
pub const REST_SHORT_TEXT: usize = 255;
/// Generic REST: `notes`.
pub const REST_NOTES: usize = 32_000;
/// HubSpot: one property value.
pub const HUBSPOT_PROPERTY: usize = 65_536;
/// Pipedrive: `subject` and `location.value`.
pub const PIPEDRIVE_SHORT_TEXT: usize = 255;
/// Pipedrive: `note` (HTML, marker line included).
pub const PIPEDRIVE_NOTE: usize = 65_000;

/// The length in characters.
pub fn char_len(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to at most `max` characters, ending with `…` when cut.
pub fn fit(text: &str, max: usize) -> Cow<'_, str> {
    if max == 0 {
        return Cow::Borrowed("");
    }
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some(_) => {
            let keep = text
                .char_indices()
                .nth(max - 1)
                .map_or(text.len(), |(index, _)| index);
            Cow::Owned(format!("{}…", &text[..keep]))
        }
    }
}

/// The value `build` makes from `notes`, at most `max` characters: when it is longer, the notes
/// are cut (never what `build` adds around them) as little as possible for it to fit. When even
/// empty notes do not fit, the result is cut as a whole.
pub fn fit_notes(notes: &str, max: usize, build: impl Fn(&str) -> String) -> String {
    let whole = build(notes);
    if char_len(&whole) <= max {
        return whole;
    }
    let with = |keep: usize| {
        if keep == 0 {
            build("")
        } else {
            build(&fit(notes, keep))
        }
    };
    // Binary search for the most characters of the notes that fit: `fits` always fits (or is
    // 0), `too_many` never does.
    let (mut fits, mut too_many) = (0, char_len(notes));
    while too_many - fits > 1 {
        let middle = fits + (too_many - fits) / 2;
        if char_len(&with(middle)) <= max {
            fits = middle;
        } else {
            too_many = middle;
        }
    }
    let built = with(fits);
    if char_len(&built) > max {
        return fit(&built, max).into_owned();
    }
    built
}

/// The record as the generic REST contract allows it (subject, location and notes fitted).
pub fn fit_rest_record(record: &MeetingRecord) -> Cow<'_, MeetingRecord> {
    let subject_fits = char_len(&record.meeting_subject) <= REST_SHORT_TEXT;
    let location_fits = record
        .meeting_location
        .as_deref()
        .is_none_or(|location| char_len(location) <= REST_SHORT_TEXT);
    let notes_fit = record
        .notes
        .as_deref()
        .is_none_or(|notes| char_len(notes) <= REST_NOTES);
    if subject_fits && location_fits && notes_fit {
        return Cow::Borrowed(record);
    }
    let mut fitted = record.clone();
    fitted.meeting_subject = fit(&record.meeting_subject, REST_SHORT_TEXT).into_owned();
    fitted.meeting_location = record
        .meeting_location
        .as_deref()
        .map(|location| fit(location, REST_SHORT_TEXT).into_owned());
    fitted.notes = record
        .notes
        .as_deref()
        .map(|notes| fit(notes, REST_NOTES).into_owned());
    Cow::Owned(fitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_ends_on_a_character_boundary_with_an_ellipsis() {
        assert_eq!(fit("héllo", 5), "héllo");
        assert_eq!(fit("héllo wörld", 5), "héll…");
        assert_eq!(char_len(&fit("😀😀😀", 2)), 2);
        assert_eq!(fit("😀😀😀", 2), "😀…");
        assert_eq!(fit("abc", 0), "");
    }

    #[test]
    fn only_the_notes_are_cut_and_escaping_is_accounted_for() {
        let notes = "&".repeat(1_000);
        let build =
            |notes: &str| format!("<p>{}</p><p>marker: e1</p>", notes.replace('&', "&amp;"));
        let built = fit_notes(&notes, 300, build);
        assert!(char_len(&built) <= 300, "{}", char_len(&built));
        assert!(built.ends_with("…</p><p>marker: e1</p>"), "{built}");
        assert!(
            char_len(&built) >= 296,
            "cut more than needed: {}",
            char_len(&built)
        );
        assert_eq!(fit_notes("short", 300, build), build("short"));
    }
}
