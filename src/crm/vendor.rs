//! Helpers shared by the vendor adapters (HubSpot, Pipedrive): sending with their throttle
//! signals honoured, the pause after a daily allowance runs out, and HTML note bodies.
//!
//! Invariants: every request still goes through [`CrmTransport::send`] (rate cap, target pause,
//! metrics); a throttled request (429) is retried in place at most once, and only when the pause
//! the vendor asked for is short enough to wait out ([`MAX_INLINE_WAIT`]) — a 429 means the
//! request was not processed, so repeating it never duplicates a write; a longer pause is left
//! to the worker's schedule.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};

use super::CrmError;
use super::transport::{Answer, CrmTransport, MAX_INLINE_WAIT};

/// Slack added after the start of the hour when waiting for a daily allowance to reset.
pub const DAILY_RESET_MARGIN: Duration = Duration::from_secs(30);

/// An answer and the pause its throttle signals asked for (already applied to the target).
#[derive(Debug)]
pub struct Throttled {
    pub answer: Answer,
    pub pause: Option<Duration>,
}

/// Sends the request `build` makes through `transport`. `signals` reads the vendor's throttle
/// signals from an answer (and records its quota gauges); the pause it returns is applied to the
/// whole target. A 429 whose pause is short is sent once more after the pause.
pub async fn send_throttled(
    transport: &CrmTransport,
    operation: &'static str,
    build: impl Fn() -> RequestBuilder,
    signals: impl Fn(&Answer) -> Option<Duration>,
) -> Result<Throttled, CrmError> {
    let mut retried = false;
    loop {
        let answer = transport.send(operation, build()).await?;
        let pause = signals(&answer);
        if let Some(pause) = pause {
            transport.pause_for(pause);
        }
        let short = pause.is_some_and(|pause| pause <= MAX_INLINE_WAIT);
        if answer.status == StatusCode::TOO_MANY_REQUESTS && short && !retried {
            retried = true;
            continue;
        }
        return Ok(Throttled { answer, pause });
    }
}

/// How long to hold back after a daily allowance ran out: until the start of the next hour (UTC)
/// plus [`DAILY_RESET_MARGIN`].
///
/// Vendors reset daily allowances at midnight in a time zone calsync cannot know (HubSpot: the
/// account's; Pipedrive: unstated). Midnight anywhere falls on a whole hour of UTC for almost all
/// zones, so probing once an hour resumes at most an hour after the real reset, at the cost of at
/// most one rejected request per hour while the allowance is spent.
pub fn daily_cap_pause(now: Timestamp) -> Duration {
    let into_hour = now.as_second().rem_euclid(3600);
    let to_next_hour = u64::try_from(3600 - into_hour).unwrap_or(3600);
    Duration::from_secs(to_next_hour) + DAILY_RESET_MARGIN
}

/// A header's value as an integer, when present and numeric.
pub fn header_number(headers: &HeaderMap, name: &str) -> Option<i64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Plain text as HTML: `& < > "` escaped, line breaks as `<br>`.
pub fn html_text(text: &str) -> String {
    let mut html = String::with_capacity(text.len());
    for c in text.trim().chars() {
        match c {
            '&' => html.push_str("&amp;"),
            '<' => html.push_str("&lt;"),
            '>' => html.push_str("&gt;"),
            '"' => html.push_str("&quot;"),
            '\n' => html.push_str("<br>"),
            '\r' => {}
            other => html.push(other),
        }
    }
    html
}

/// A success answer whose body calsync cannot read.
pub fn protocol_error(operation: &'static str, what: &str) -> CrmError {
    CrmError::Protocol {
        operation,
        message: what.to_owned(),
    }
}

/// An answer built by hand, for adapters' unit tests.
#[cfg(test)]
pub fn test_answer(status: u16, headers: &[(&'static str, &str)], body: &str) -> Answer {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in headers {
        map.insert(*name, value.parse().unwrap());
    }
    Answer {
        status: reqwest::StatusCode::from_u16(status).unwrap(),
        headers: map,
        body: body.to_owned().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_daily_cap_waits_until_the_next_whole_hour() {
        let at = |text: &str| text.parse::<Timestamp>().unwrap();
        assert_eq!(
            daily_cap_pause(at("2026-07-01T10:15:00Z")),
            Duration::from_secs(45 * 60) + DAILY_RESET_MARGIN
        );
        assert_eq!(
            daily_cap_pause(at("2026-07-01T23:59:59Z")),
            Duration::from_secs(1) + DAILY_RESET_MARGIN
        );
        assert_eq!(
            daily_cap_pause(at("2026-07-01T00:00:00Z")),
            Duration::from_secs(3600) + DAILY_RESET_MARGIN
        );
    }

    #[test]
    fn text_becomes_escaped_html() {
        assert_eq!(
            html_text(" a < b & \"c\"\r\nnext> \n"),
            "a &lt; b &amp; &quot;c&quot;<br>next&gt;"
        );
    }

    #[test]
    fn numeric_headers_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("x-left", " 42 ".parse().unwrap());
        headers.insert("x-bad", "many".parse().unwrap());
        assert_eq!(header_number(&headers, "x-left"), Some(42));
        assert_eq!(header_number(&headers, "x-bad"), None);
        assert_eq!(header_number(&headers, "x-none"), None);
    }
}
