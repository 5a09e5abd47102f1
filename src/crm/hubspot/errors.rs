//! HubSpot's throttle signals and error answers, classified.
//!
//! - 429 with `policyName: DAILY`: the daily allowance is spent; the target pauses until the next
//!   whole hour (see [`daily_cap_pause`]) — never a short retry.
//! - 429 with any other policy (`TEN_SECONDLY_ROLLING`, `SECONDLY`): `Retry-After` when given,
//!   else `X-HubSpot-RateLimit-Interval-Milliseconds`, else the policy's window.
//! - `X-HubSpot-RateLimit-Daily-Remaining: 0` on any answer pauses the target the same way as a
//!   DAILY 429 (the next request would be refused); its value is exported as the
//!   `daily_remaining` CRM quota gauge.
//! - 401/403 are [`Retry::Auth`]; 400, 404, 409, 422 are permanent; 5xx are retried.
//!
//! Messages come from the error body (`category`, `message`, `correlationId`), at most ~200
//! characters, with the token scrubbed. All of it is plugged into the shared client
//! ([`crate::crm::vendor`]) as [`HubSpotApi`].

use std::time::Duration;

use jiff::Timestamp;
use reqwest::RequestBuilder;
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::crm::transport::{Answer, CrmTransport};
use crate::crm::vendor::{Vendor, daily_cap_pause, header_number};
use crate::retry::retry_after;
use crate::telemetry::metrics::Metrics;

/// The burst window when a 429 names none.
const TEN_SECONDS: Duration = Duration::from_secs(10);

/// What HubSpot plugs into the shared client: the bearer token, its throttle signals, its error
/// body.
pub struct HubSpotApi {
    pub token: SecretString,
}

impl Vendor for HubSpotApi {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request.bearer_auth(self.token.expose_secret())
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

    /// `category: message (correlation id …)` from the body, else the body.
    fn describe(&self, answer: &Answer) -> String {
        let body = error_body(answer);
        let text = match (body.category, body.message) {
            (Some(category), Some(message)) => format!("{category}: {message}"),
            (None, Some(message)) => message,
            _ => return String::from_utf8_lossy(&answer.body).into_owned(),
        };
        match body.correlation_id {
            Some(id) => format!("{text} (correlation id {id})"),
            None => text,
        }
    }
}

/// HubSpot's error body (also the 429 body, which adds `errorType` and `policyName`).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    category: Option<String>,
    message: Option<String>,
    correlation_id: Option<String>,
    policy_name: Option<String>,
}

fn error_body(answer: &Answer) -> ErrorBody {
    serde_json::from_slice(&answer.body).unwrap_or_default()
}

/// The pause `answer` asks for, if any; records the daily allowance gauge.
pub fn throttle_pause(answer: &Answer, now: Timestamp, metrics: &Metrics) -> Option<Duration> {
    let daily_remaining = header_number(&answer.headers, "x-hubspot-ratelimit-daily-remaining");
    if let Some(remaining) = daily_remaining {
        metrics.set_crm_quota("hubspot", "daily_remaining", remaining);
    }
    if answer.status == StatusCode::TOO_MANY_REQUESTS {
        let policy = error_body(answer).policy_name.unwrap_or_default();
        if policy.eq_ignore_ascii_case("DAILY") {
            return Some(daily_cap_pause(now));
        }
        let asked = retry_after(&answer.headers, now);
        let interval = header_number(&answer.headers, "x-hubspot-ratelimit-interval-milliseconds")
            .and_then(|ms| u64::try_from(ms).ok())
            .map(Duration::from_millis);
        let window = if policy.eq_ignore_ascii_case("SECONDLY") {
            Duration::from_secs(1)
        } else {
            TEN_SECONDS
        };
        return Some(asked.or(interval).unwrap_or(window));
    }
    (daily_remaining == Some(0)).then(|| daily_cap_pause(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::vendor::test_answer as answer;
    use crate::crm::vendor::{DAILY_RESET_MARGIN, test_error};
    use crate::retry::Retry;

    fn api(token: &str) -> HubSpotApi {
        HubSpotApi {
            token: SecretString::from(token),
        }
    }

    const NOW: &str = "2026-07-01T10:15:00Z";

    fn pause(answer: &Answer) -> Option<Duration> {
        throttle_pause(answer, NOW.parse().unwrap(), &Metrics::new())
    }

    #[test]
    fn a_daily_429_waits_for_the_reset_not_seconds() {
        let daily = answer(
            429,
            &[("retry-after", "1")],
            r#"{"status":"error","errorType":"RATE_LIMIT","policyName":"DAILY","message":"You have reached your daily limit."}"#,
        );
        assert_eq!(
            pause(&daily),
            Some(Duration::from_secs(45 * 60) + DAILY_RESET_MARGIN)
        );
        let error = test_error(&api("tok"), "hubspot create", daily.clone(), pause(&daily));
        assert!(
            matches!(error.retry(), Retry::After(Some(wait)) if wait > Duration::from_secs(2000))
        );
    }

    #[test]
    fn a_burst_429_honours_retry_after_then_the_interval() {
        let body = r#"{"errorType":"RATE_LIMIT","policyName":"TEN_SECONDLY_ROLLING"}"#;
        let with_retry_after = answer(
            429,
            &[
                ("retry-after", "3"),
                ("x-hubspot-ratelimit-interval-milliseconds", "10000"),
            ],
            body,
        );
        assert_eq!(pause(&with_retry_after), Some(Duration::from_secs(3)));
        let with_interval = answer(
            429,
            &[("x-hubspot-ratelimit-interval-milliseconds", "2000")],
            body,
        );
        assert_eq!(pause(&with_interval), Some(Duration::from_secs(2)));
        let bare = answer(429, &[], body);
        assert_eq!(pause(&bare), Some(Duration::from_secs(10)));
        let secondly = answer(429, &[], r#"{"policyName":"SECONDLY"}"#);
        assert_eq!(pause(&secondly), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_spent_daily_allowance_pauses_before_the_next_refusal() {
        let metrics = Metrics::new();
        let ok = answer(201, &[("x-hubspot-ratelimit-daily-remaining", "0")], "{}");
        assert!(throttle_pause(&ok, NOW.parse().unwrap(), &metrics).is_some());
        let plenty = answer(201, &[("x-hubspot-ratelimit-daily-remaining", "99")], "{}");
        assert_eq!(
            throttle_pause(&plenty, NOW.parse().unwrap(), &metrics),
            None
        );
        assert!(
            metrics
                .render()
                .contains(r#"calsync_crm_quota{kind="hubspot",quota="daily_remaining"} 99"#)
        );
    }

    #[test]
    fn errors_are_classified_and_described_without_the_token() {
        let body = r#"{"status":"error","message":"Property values were not valid: tok-123","correlationId":"c-1","category":"VALIDATION_ERROR"}"#;
        let error = test_error(
            &api("tok-123"),
            "hubspot create",
            answer(400, &[], body),
            None,
        );
        assert_eq!(error.retry(), Retry::Permanent);
        let text = error.to_string();
        assert!(text.contains("VALIDATION_ERROR: Property values were not valid"));
        assert!(text.contains("correlation id c-1"));
        assert!(!text.contains("tok-123"));
        for status in [401, 403] {
            let error = test_error(&api("t"), "hubspot create", answer(status, &[], "{}"), None);
            assert_eq!(error.retry(), Retry::Auth, "{status}");
        }
        let error = test_error(
            &api("t"),
            "hubspot create",
            answer(502, &[], "<html>"),
            None,
        );
        assert_eq!(error.retry(), Retry::After(None));
    }
}
