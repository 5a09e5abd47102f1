//! Pipedrive's throttle signals and error answers, classified.
//!
//! - Every answer may carry `x-daily-ratelimit-token-remaining` (the company's daily token
//!   budget): it is exported as the `daily_tokens_remaining` CRM quota gauge, and 0 pauses the
//!   target until the next whole hour ([`daily_cap_pause`]: Pipedrive resets the budget "at the
//!   start of the next day" without saying in which time zone).
//! - 429 (the 2-second burst window): pause for `x-ratelimit-reset` seconds (else
//!   `Retry-After`, else [`BURST_WINDOW`]); with a spent daily budget, until the next hour.
//! - 401 is [`Retry::Auth`]. 403 is also `Auth`: it means missing permissions, or a token that
//!   Pipedrive blocked for ignoring 429s (which calsync never does). Either way the jobs wait
//!   for an operator without being dead-lettered or counting attempts, which is the safe
//!   reading of both.
//! - 400, 404, 409, 422 are permanent; 5xx are retried.
//!
//! Messages come from the error body (`error`, `error_info`), at most ~200 characters, with the
//! token scrubbed. All of it is plugged into the shared client ([`crate::crm::vendor`]) as
//! [`PipedriveApi`].

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::crm::transport::{Answer, CrmTransport};
use crate::crm::vendor::{Vendor, daily_cap_pause, header_number};
use crate::retry::retry_after;
use crate::telemetry::metrics::Metrics;

/// Pipedrive's burst window, the wait when a 429 names none.
pub const BURST_WINDOW: Duration = Duration::from_secs(2);

/// The daily token budget header (undocumented, `crms.md`).
const DAILY_TOKENS: &str = "x-daily-ratelimit-token-remaining";

/// The header carrying the API token.
const TOKEN_HEADER: &str = "x-api-token";

/// What Pipedrive plugs into the shared client: the `x-api-token` header, its throttle signals,
/// its error body.
pub struct PipedriveApi {
    pub token: SecretString,
}

impl Vendor for PipedriveApi {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request.header(TOKEN_HEADER, self.token.expose_secret())
    }

    fn secrets(&self) -> Vec<&str> {
        vec![self.token.expose_secret()]
    }

    fn signals(
        &self,
        answer: &Answer,
        now: Timestamp,
        transport: &CrmTransport,
    ) -> Option<Duration> {
        throttle_pause(answer, now, transport.metrics())
    }

    /// `error (error_info)` from the body, else the body.
    fn describe(&self, answer: &Answer) -> String {
        let body: ErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
        match (body.error, body.error_info) {
            (Some(error), Some(info)) if !info.is_empty() => format!("{error} ({info})"),
            (Some(error), _) => error,
            _ => String::from_utf8_lossy(&answer.body).into_owned(),
        }
    }
}

/// Pipedrive's error body.
#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    error: Option<String>,
    error_info: Option<String>,
}

/// The pause `answer` asks for, if any; records the daily budget gauge.
pub fn throttle_pause(answer: &Answer, now: Timestamp, metrics: &Metrics) -> Option<Duration> {
    let daily = header_number(&answer.headers, DAILY_TOKENS);
    if let Some(remaining) = daily {
        metrics.set_crm_quota("pipedrive", "daily_tokens_remaining", remaining);
    }
    if daily.is_some_and(|remaining| remaining <= 0) {
        return Some(daily_cap_pause(now));
    }
    if answer.status != StatusCode::TOO_MANY_REQUESTS {
        return None;
    }
    let reset = header_number(&answer.headers, "x-ratelimit-reset")
        .and_then(|seconds| u64::try_from(seconds).ok())
        .map(Duration::from_secs);
    Some(
        reset
            .or_else(|| retry_after(&answer.headers, now))
            .unwrap_or(BURST_WINDOW),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::vendor::test_answer as answer;
    use crate::crm::vendor::{DAILY_RESET_MARGIN, test_error};
    use crate::retry::Retry;

    fn api(token: &str) -> PipedriveApi {
        PipedriveApi {
            token: SecretString::from(token),
        }
    }

    fn pause(answer: &Answer) -> Option<Duration> {
        throttle_pause(
            answer,
            "2026-07-01T10:15:00Z".parse().unwrap(),
            &Metrics::new(),
        )
    }

    #[test]
    fn a_burst_429_waits_for_the_window_reset() {
        let burst = answer(
            429,
            &[
                ("x-ratelimit-reset", "2"),
                ("x-daily-ratelimit-token-remaining", "500"),
            ],
            r#"{"success":false,"error":"Request over limit","error_info":"…"}"#,
        );
        assert_eq!(pause(&burst), Some(Duration::from_secs(2)));
        let asked = answer(429, &[("retry-after", "5")], "{}");
        assert_eq!(pause(&asked), Some(Duration::from_secs(5)));
        assert_eq!(pause(&answer(429, &[], "{}")), Some(BURST_WINDOW));
        let error = test_error(
            &api("tok"),
            "pipedrive create",
            burst.clone(),
            pause(&burst),
        );
        assert_eq!(error.retry(), Retry::After(Some(Duration::from_secs(2))));
    }

    #[test]
    fn a_spent_daily_budget_waits_for_the_next_hour() {
        let metrics = Metrics::new();
        let spent = answer(
            429,
            &[
                ("x-ratelimit-reset", "1"),
                ("x-daily-ratelimit-token-remaining", "0"),
            ],
            "{}",
        );
        let now = "2026-07-01T10:15:00Z".parse().unwrap();
        assert_eq!(
            throttle_pause(&spent, now, &metrics),
            Some(Duration::from_secs(45 * 60) + DAILY_RESET_MARGIN)
        );
        assert!(
            metrics.render().contains(
                r#"calsync_crm_quota{kind="pipedrive",quota="daily_tokens_remaining"} 0"#
            )
        );
        let last_tokens = answer(200, &[("x-daily-ratelimit-token-remaining", "0")], "{}");
        assert!(pause(&last_tokens).is_some());
        let fine = answer(200, &[("x-daily-ratelimit-token-remaining", "10")], "{}");
        assert_eq!(pause(&fine), None);
    }

    #[test]
    fn errors_are_classified_and_described_without_the_token() {
        let body = r#"{"success":false,"error":"Subject is required tok-9","error_info":"Please check developers.pipedrive.com","data":null}"#;
        let error = test_error(
            &api("tok-9"),
            "pipedrive create",
            answer(400, &[], body),
            None,
        );
        assert_eq!(error.retry(), Retry::Permanent);
        let text = error.to_string();
        assert!(
            text.contains("Subject is required [redacted] (Please check"),
            "{text}"
        );
        for status in [401, 403] {
            let error = test_error(
                &api("t"),
                "pipedrive create",
                answer(status, &[], "{}"),
                None,
            );
            assert_eq!(error.retry(), Retry::Auth, "{status}");
        }
        let error = test_error(&api("t"), "pipedrive create", answer(503, &[], ""), None);
        assert_eq!(error.retry(), Retry::After(None));
    }
}
