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

struct Plain;

impl Vendor for Plain {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request
    }

    fn secrets(&self) -> Vec<&str> {
        vec!["sk_live_0123456789"]
    }
}

#[test]
fn a_secret_is_scrubbed_before_the_message_is_cut() {
    // The secret straddles the cut: cutting first would leave a prefix of it behind.
    let body = format!("{}sk_live_0123456789 and more", "x".repeat(MAX_MESSAGE - 5));
    let error = test_error(&Plain, "rest create", test_answer(400, &[], &body), None);
    let text = error.to_string();
    assert!(!text.contains("sk_live_0"), "{text}");
    assert_eq!(error.retry(), Retry::Permanent);
}

#[test]
fn a_429_waits_for_the_pause_its_signals_asked_for_else_retry_after() {
    let now = "2026-07-01T10:15:00Z".parse().unwrap();
    let throttled = test_answer(429, &[("retry-after", "7")], "{}");
    let pause = Some(Duration::from_secs(60));
    assert_eq!(
        default_classify(&throttled, pause, now),
        Retry::After(pause)
    );
    assert_eq!(
        default_classify(&throttled, None, now),
        Retry::After(Some(Duration::from_secs(7)))
    );
    let failing = test_answer(503, &[("retry-after", "3")], "");
    assert_eq!(
        default_classify(&failing, None, now),
        Retry::After(Some(Duration::from_secs(3)))
    );
}
