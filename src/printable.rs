//! Text from outside (ids, types, URLs, error messages quoting an answer) made safe to print on
//! a terminal or in a text log line.
//!
//! Invariants: the result of [`escape`] holds no control character (C0, DEL, C1) and no
//! bidirectional override, so it cannot move the cursor, recolour the terminal, start a new log
//! line or reorder what follows; a [`cell`] is also at most the given number of characters.
//! Printable text passes unchanged.

use std::borrow::Cow;
use std::fmt::Write as _;

/// What ends a truncated cell.
const ELLIPSIS: char = '…';

/// `text` with every control character written as an escape: `\n`, `\r`, `\t`, or `\u{…}`.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for character in text.chars() {
        match character {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            other if needs_escape(other) => {
                let _ = write!(escaped, "\\u{{{:x}}}", u32::from(other));
            }
            other => escaped.push(other),
        }
    }
    Cow::Owned(escaped)
}

/// `text` escaped and cut to at most `max_chars` characters (the last one an ellipsis when cut).
pub fn cell(text: &str, max_chars: usize) -> String {
    let escaped = escape(text);
    if escaped.chars().count() <= max_chars {
        return escaped.into_owned();
    }
    let mut cut: String = escaped.chars().take(max_chars.saturating_sub(1)).collect();
    if max_chars > 0 {
        cut.push(ELLIPSIS);
    }
    cut
}

/// Control characters and the bidirectional formatting characters (U+202A–U+202E,
/// U+2066–U+2069) that can reorder the text displayed after them.
fn needs_escape(character: char) -> bool {
    character.is_control()
        || ('\u{202a}'..='\u{202e}').contains(&character)
        || ('\u{2066}'..='\u{2069}').contains(&character)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_and_the_rest_kept() {
        assert!(matches!(
            escape("evt-1 café ✓"),
            Cow::Borrowed("evt-1 café ✓")
        ));
        assert_eq!(escape("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(escape("\u{1b}[31mred\u{7}"), "\\u{1b}[31mred\\u{7}");
        assert_eq!(escape("\u{9b}2J \u{7f}"), "\\u{9b}2J \\u{7f}");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
    }

    #[test]
    fn cells_are_escaped_then_cut_by_characters() {
        assert_eq!(cell("short", 10), "short");
        assert_eq!(cell("exactly-10", 10), "exactly-10");
        assert_eq!(cell("eleven-char", 10), "eleven-ch…");
        assert_eq!(cell("ééééééé", 4), "ééé…");
        assert_eq!(cell("a\nb", 3), "a\\…");
        let huge = "x".repeat(65_536);
        assert_eq!(cell(&huge, 64).chars().count(), 64);
        assert_eq!(cell("abc", 0), "");
    }
}
