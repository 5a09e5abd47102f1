//! Links in rendered notes: a link keeps its text, and its URL too when the text does not show
//! it ("Click here to join" becomes `Click here to join (https://zoom.us/j/123)`), so the
//! conferencing link a description carries survives the reduction to plain text.
//!
//! The renderer's decorator brackets every link with private-use marker characters
//! ([`OPEN`] text [`URL`] url [`CLOSE`]); [`resolve`] replaces each bracketed link with its final
//! text. Markers are removed from the input before rendering ([`strip_markers`]), so only the
//! decorator's markers are ever seen; an unbalanced marker (a renderer quirk) is dropped.

/// Starts a link's text.
pub(super) const OPEN: char = '\u{E000}';
/// Ends a link's text and starts its URL.
pub(super) const URL: char = '\u{E001}';
/// Ends a link's URL.
pub(super) const CLOSE: char = '\u{E002}';

/// `text` without the marker characters.
pub(super) fn strip_markers(text: &str) -> String {
    text.chars()
        .filter(|c| !matches!(*c, OPEN | URL | CLOSE))
        .collect()
}

/// Replaces every bracketed link in `rendered` by its text, followed by ` (url)` when the URL
/// is a web link the text does not already show.
pub(super) fn resolve(rendered: &str) -> String {
    let mut out = String::with_capacity(rendered.len());
    let mut rest = rendered;
    while let Some(at) = rest.find(OPEN) {
        out.push_str(&rest[..at]);
        let after = &rest[at + OPEN.len_utf8()..];
        let Some((text, url, tail)) = split_link(after) else {
            // No complete link follows: drop this marker and go on.
            rest = after;
            continue;
        };
        out.push_str(&with_url(text, url));
        rest = tail;
    }
    out.push_str(rest);
    strip_markers(&out)
}

/// Splits `text URL url CLOSE tail` into its parts; `None` when the markers do not follow.
fn split_link(after_open: &str) -> Option<(&str, &str, &str)> {
    let url_at = after_open.find(URL)?;
    let text = &after_open[..url_at];
    if text.contains(OPEN) {
        return None;
    }
    let after_text = &after_open[url_at + URL.len_utf8()..];
    let close_at = after_text.find(CLOSE)?;
    let url = &after_text[..close_at];
    Some((text, url, &after_text[close_at + CLOSE.len_utf8()..]))
}

/// A link's final text.
fn with_url(text: &str, url: &str) -> String {
    let url = url.trim();
    let Some(shown) = web_address(url) else {
        return text.to_owned();
    };
    if text.trim().is_empty() {
        return url.to_owned();
    }
    if text.to_lowercase().contains(&shown.to_lowercase()) {
        return text.to_owned();
    }
    format!("{text} ({url})")
}

/// The part of an `http(s)` URL a reader would recognise in the link's text (no scheme, no
/// trailing slash); `None` for other schemes (`mailto:`, `tel:`, relative links).
fn web_address(url: &str) -> Option<&str> {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &url[8..]
    } else if lower.starts_with("http://") {
        &url[7..]
    } else {
        return None;
    };
    let rest = rest.trim_end_matches('/');
    (!rest.is_empty()).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(text: &str, url: &str) -> String {
        format!("{OPEN}{text}{URL}{url}{CLOSE}")
    }

    #[test]
    fn a_link_keeps_its_url_unless_its_text_shows_it() {
        let cases = [
            (
                link("Click here to join", "https://zoom.us/j/123?pwd=x"),
                "Click here to join (https://zoom.us/j/123?pwd=x)",
            ),
            (
                link(
                    "meet.google.com/abc-defg-hij",
                    "https://meet.google.com/abc-defg-hij",
                ),
                "meet.google.com/abc-defg-hij",
            ),
            (
                link("https://X.example/doc/", "https://x.example/doc/"),
                "https://X.example/doc/",
            ),
            (link("", "https://x.example/a"), "https://x.example/a"),
            (link("Write to us", "mailto:a@b.example"), "Write to us"),
            (link("Call", "tel:+1555"), "Call"),
        ];
        for (rendered, expected) in cases {
            assert_eq!(resolve(&rendered), expected, "{rendered:?}");
        }
    }

    #[test]
    fn unbalanced_markers_are_dropped() {
        assert_eq!(resolve(&format!("a{OPEN}b")), "ab");
        assert_eq!(resolve(&format!("a{URL}b{CLOSE}c")), "abc");
        assert_eq!(
            resolve(&format!("x{OPEN}y{}", link("t", "https://u.example"))),
            "xyt (https://u.example)"
        );
    }
}
