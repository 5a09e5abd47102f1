//! Event descriptions as readable plain text for the CRM's notes field.
//!
//! Providers send descriptions as HTML (Google, Microsoft) or as plain text (iCloud, some
//! Microsoft calendars). HTML is rendered with `html2text`: tags removed, entities decoded,
//! block elements and `<br>` as line breaks, links as their text plus their URL when the text
//! does not show it ([`links`]: a "Click here to join" keeps its meeting link), lists as `- ` and
//! `1. ` items, no hard wrapping; the result is trimmed, trailing spaces removed and runs of
//! blank lines collapsed to one. Text that carries no recognised HTML tag is returned unchanged
//! (so `a < b` and `<https://example.com>` survive as written).

mod links;

use html2text::render::TextDecorator;

/// The width html2text lays text out in: wide enough that no real line wraps, small enough that
/// its layout arithmetic cannot overflow (`usize::MAX` does, in table layout).
const RENDER_WIDTH: usize = 1 << 20;

/// Renders an event description as plain text.
///
/// HTML (a description containing at least one recognised HTML tag or comment) is converted;
/// anything else is returned exactly as given. The result may be empty (for HTML with no text).
pub fn html_to_text(description: &str) -> String {
    if !looks_like_html(description) {
        return description.to_owned();
    }
    tidy(&links::resolve(&render(&links::strip_markers(description))))
}

/// html2text's rendering of `html`, before tidying.
fn render(html: &str) -> String {
    // Rendering reads from a byte slice (no I/O errors) with overflow allowed (no width errors);
    // the remaining failure means the document has nothing renderable, i.e. no text.
    html2text::config::with_decorator(NotesDecorator::default())
        .link_footnotes(false)
        .no_link_wrapping()
        .unicode_strikeout(false)
        .raw_mode(true)
        .allow_width_overflow()
        .string_from_read(html.as_bytes(), RENDER_WIDTH)
        .unwrap_or_default()
}

/// True when `text` contains an HTML comment, doctype, or a tag whose name is a known HTML
/// element (`<p>`, `</div>`, `<br/>`, `<a href=…>`, …).
pub(super) fn looks_like_html(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = &text[at + 1..];
        if rest.starts_with("!--")
            || rest
                .get(..8)
                .is_some_and(|head| head.eq_ignore_ascii_case("!doctype"))
        {
            return true;
        }
        let rest = rest.strip_prefix('/').unwrap_or(rest);
        let name_len = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let (name, after) = rest.split_at(name_len);
        let ends_name = after.starts_with(|c: char| c == '>' || c == '/' || c.is_whitespace());
        ends_name && is_html_element(name) && after.contains('>')
    })
}

/// Elements that appear in calendar descriptions (and Outlook/Google exports of them).
fn is_html_element(name: &str) -> bool {
    const ELEMENTS: &[&str] = &[
        "a",
        "abbr",
        "address",
        "article",
        "b",
        "big",
        "blockquote",
        "body",
        "br",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hr",
        "html",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "meta",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "section",
        "small",
        "span",
        "strike",
        "strong",
        "style",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "title",
        "tr",
        "tt",
        "u",
        "ul",
    ];
    ELEMENTS
        .iter()
        .any(|element| element.eq_ignore_ascii_case(name))
}

/// Trims each line's end, turns no-break spaces into spaces, collapses runs of blank lines to
/// one, and trims the whole.
fn tidy(rendered: &str) -> String {
    let mut out = String::with_capacity(rendered.len());
    let mut blank_run = false;
    for line in rendered.lines() {
        let line = line.replace('\u{a0}', " ");
        let line = line.trim_end();
        if line.is_empty() {
            blank_run = true;
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
            if blank_run {
                out.push('\n');
            }
        }
        blank_run = false;
        out.push_str(line);
    }
    out
}

/// A plain-text decorator: links are bracketed for [`links::resolve`], emphasis leaves no marks,
/// lists use `- ` and `1. `, headings and quotes carry no prefix.
#[derive(Debug, Clone, Default)]
struct NotesDecorator {
    /// The URLs of the links being rendered, innermost last.
    open_links: Vec<String>,
}

impl TextDecorator for NotesDecorator {
    type Annotation = ();

    fn decorate_link_start(&mut self, url: &str) -> (String, ()) {
        self.open_links.push(url.to_owned());
        (links::OPEN.to_string(), ())
    }
    fn decorate_link_end(&mut self) -> String {
        match self.open_links.pop() {
            Some(url) => format!("{}{url}{}", links::URL, links::CLOSE),
            None => String::new(),
        }
    }
    fn decorate_em_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_em_end(&self) -> String {
        String::new()
    }
    fn decorate_strong_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strong_end(&self) -> String {
        String::new()
    }
    fn decorate_strikeout_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_strikeout_end(&self) -> String {
        String::new()
    }
    fn decorate_code_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_code_end(&self) -> String {
        String::new()
    }
    fn decorate_preformat_first(&self) {}
    fn decorate_preformat_cont(&self) {}
    fn decorate_image(&mut self, _src: &str, title: &str) -> (String, ()) {
        (title.to_owned(), ())
    }
    fn header_prefix(&self, _level: usize) -> String {
        String::new()
    }
    fn quote_prefix(&self) -> String {
        String::new()
    }
    fn unordered_item_prefix(&self) -> String {
        "- ".to_owned()
    }
    fn ordered_item_prefix(&self, i: i64) -> String {
        format!("{i}. ")
    }
    fn make_subblock_decorator(&self) -> Self {
        NotesDecorator::default()
    }
    fn decorate_superscript_start(&self) -> (String, ()) {
        (String::new(), ())
    }
    fn decorate_superscript_end(&self) -> String {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_becomes_readable_text() {
        let cases = [
            (
                "<p>Agenda</p><p>Pricing review</p>",
                "Agenda\n\nPricing review",
            ),
            (
                "Line one<br>Line two<br/>Line three",
                "Line one\nLine two\nLine three",
            ),
            (
                "<div>Q&amp;A&nbsp;session &lt;30 min&gt; &#8212; &eacute;t&eacute;</div>",
                "Q&A session <30 min> — été",
            ),
            (
                r#"Join: <a href="https://meet.google.com/abc-defg-hij">meet.google.com/abc-defg-hij</a>"#,
                "Join: meet.google.com/abc-defg-hij",
            ),
            (
                r#"<p>See <a href="https://x.example/doc">the deck</a>.</p>"#,
                "See the deck (https://x.example/doc).",
            ),
            (
                r#"<p><a href="https://zoom.us/j/123?pwd=abc">Click here to join</a></p><p>Agenda</p>"#,
                "Click here to join (https://zoom.us/j/123?pwd=abc)\n\nAgenda",
            ),
            ("<p>Agenda \u{E000}x\u{E001}</p>", "Agenda x"),
            ("<ul><li>Intro</li><li>Demo</li></ul>", "- Intro\n- Demo"),
            ("<ol><li>Intro</li><li>Demo</li></ol>", "1. Intro\n2. Demo"),
            ("<ul><li>A<ul><li>B</li></ul></li></ul>", "- A\n  - B"),
            (
                "<blockquote>Quoted</blockquote><p>After</p>",
                "Quoted\n\nAfter",
            ),
            ("<p>A</p><br><br><br><p>B</p>", "A\n\nB"),
            (
                "<h2>Title</h2><p><b>bold</b> and <em>em</em></p>",
                "Title\n\nbold and em",
            ),
            ("<p>   </p><br>", ""),
        ];
        for (html, text) in cases {
            assert_eq!(html_to_text(html), text, "{html}");
        }
    }

    #[test]
    fn long_lines_are_not_wrapped() {
        let sentence = "word ".repeat(100);
        let text = html_to_text(&format!("<p>{sentence}</p>"));
        assert_eq!(text, sentence.trim_end());
    }

    #[test]
    fn tables_render_without_borders_or_padding() {
        let html = "<table><tr><td>Dial-in</td><td>+1 555 0100</td></tr></table>";
        assert_eq!(render(html), "Dial-in\n+1 555 0100\n");
        assert_eq!(html_to_text(html), "Dial-in\n+1 555 0100");
    }

    #[test]
    fn a_large_description_renders_every_line() {
        let html = "<p>Dial in: +1 555 0100 &amp; more</p><br>".repeat(400);
        let text = html_to_text(&html);
        assert_eq!(text.lines().filter(|line| !line.is_empty()).count(), 400);
        assert!(
            text.lines()
                .all(|line| line == "Dial in: +1 555 0100 & more" || line.is_empty())
        );
    }

    #[test]
    fn plain_text_passes_unchanged() {
        let cases = [
            "Agenda:\n  1. pricing\n\n\n  2. a < b and c > d\n",
            "Join <https://zoom.us/j/123> or mail <rep@example.com>",
            "Q&amp;A is written literally here",
            "x<y",
            "<unknown-tag> stays",
        ];
        for text in cases {
            assert!(!looks_like_html(text), "{text}");
            assert_eq!(html_to_text(text), text);
        }
    }

    #[test]
    fn html_is_detected_by_known_tags_and_comments() {
        for html in [
            "<P>x</P>",
            "x<br>y",
            "a</div>",
            "<!-- c -->x",
            "<!DOCTYPE html><html>x",
        ] {
            assert!(looks_like_html(html), "{html}");
        }
    }
}
