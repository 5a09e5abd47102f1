//! Salesforce's answers that are not a success: the error body, its classification, and the
//! throttle signals (`Sforce-Limit-Info`, 403 `REQUEST_LIMIT_EXCEEDED`).
//!
//! Invariants: errors are parsed from the documented JSON array `[{message, errorCode, fields}]`
//! (a single object is tolerated, anything else falls back to a scrubbed excerpt of the body);
//! classification uses the status and the `errorCode` only, never the message text; an error
//! message never carries a secret (the client secret and the access token are scrubbed).

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use jiff::Timestamp;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::crm::transport::excerpt;
use crate::retry::{Retry, classify_status, retry_after};

/// Longest error message kept from a response body.
const MAX_MESSAGE: usize = 300;

/// The first pause after a 403 `REQUEST_LIMIT_EXCEEDED`.
pub const LIMIT_PAUSE_INITIAL: Duration = Duration::from_secs(5 * 60);

/// The longest pause after repeated `REQUEST_LIMIT_EXCEEDED` answers.
pub const LIMIT_PAUSE_MAX: Duration = Duration::from_secs(60 * 60);

/// One entry of Salesforce's error array.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub error_code: String,
    #[serde(default)]
    pub fields: Vec<String>,
}

/// The errors of a response body: the JSON array, or one error object; empty when the body is
/// neither (an HTML error page, a proxy's answer).
pub fn parse_errors(body: &[u8]) -> Vec<ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Array(items)) => items
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect(),
        Ok(object @ Value::Object(_)) => serde_json::from_value::<ApiError>(object)
            .ok()
            .filter(|error| !error.error_code.is_empty() || !error.message.is_empty())
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

/// True when one of the errors has this `errorCode`.
pub fn has_code(errors: &[ApiError], code: &str) -> bool {
    errors.iter().any(|error| error.error_code == code)
}

/// True when Salesforce rejected the field `name` as unknown (`INVALID_FIELD` naming it in
/// `fields` or in the message, e.g. "No such column 'EventWhoIds' on sobject of type Event").
pub fn rejects_field(errors: &[ApiError], name: &str) -> bool {
    errors.iter().any(|error| {
        error.error_code == "INVALID_FIELD"
            && (error.fields.iter().any(|field| field == name) || names(&error.message, name))
    })
}

/// True when the errors are about a linked person (`WhoId`, `EventWhoIds`): a contact or lead
/// deleted or merged since it was looked up (lookups are cached for minutes).
pub fn concerns_links(errors: &[ApiError]) -> bool {
    errors.iter().any(|error| {
        let named = ["WhoId", "EventWhoIds"]
            .iter()
            .any(|field| error.fields.iter().any(|f| f == field) || names(&error.message, field));
        matches!(
            error.error_code.as_str(),
            "ENTITY_IS_DELETED" | "INVALID_CROSS_REFERENCE_KEY"
        ) || (named && error.error_code != "INVALID_FIELD")
    })
}

/// True when `text` holds `name` as a whole identifier (not inside a longer one).
fn names(text: &str, name: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + name.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// What to do about a non-success answer (after a token refresh was tried for a 401).
///
/// 401 → Auth; 403 `REQUEST_LIMIT_EXCEEDED` → retry after `limit_pause`; other 403 → Auth;
/// 400 `UNABLE_TO_LOCK_ROW` (another transaction holds the record) → retry; 300 (several
/// records match the external id) and other 4xx (validation) → Permanent; 408, 429 and 5xx →
/// retry, after `Retry-After` when given.
pub fn classify(
    status: u16,
    errors: &[ApiError],
    headers: &HeaderMap,
    limit_pause: Duration,
    now: Timestamp,
) -> Retry {
    match status {
        403 if has_code(errors, "REQUEST_LIMIT_EXCEEDED") => Retry::After(Some(limit_pause)),
        300 => Retry::Permanent,
        400 if has_code(errors, "UNABLE_TO_LOCK_ROW") => Retry::After(None),
        _ => classify_status(status, retry_after(headers, now)),
    }
}

/// The status the single-record request answers an error with, for an error of one item of a
/// collections answer (which has no status of its own): `NOT_FOUND` 404, several Events with the
/// external id 300, `REQUEST_LIMIT_EXCEEDED` 403, `INVALID_SESSION_ID` 401, any other (a
/// validation or a reference refused) 400.
pub fn single_status(errors: &[ApiError]) -> StatusCode {
    if has_code(errors, "NOT_FOUND") {
        StatusCode::NOT_FOUND
    } else if has_code(errors, "DUPLICATE_EXTERNAL_ID") {
        StatusCode::MULTIPLE_CHOICES
    } else if has_code(errors, "REQUEST_LIMIT_EXCEEDED") {
        StatusCode::FORBIDDEN
    } else if has_code(errors, "INVALID_SESSION_ID") {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    }
}

/// A readable message: `ERROR_CODE: message (fields: a, b)` per error, joined by `; `, or an
/// excerpt of the body; scrubbed of `secrets` and cut to a few hundred characters.
pub fn describe(errors: &[ApiError], body: &[u8], secrets: &[&str]) -> String {
    if errors.is_empty() {
        return excerpt(body, secrets, MAX_MESSAGE);
    }
    let text = errors
        .iter()
        .map(|error| {
            let mut line = match (error.error_code.is_empty(), error.message.is_empty()) {
                (false, false) => format!("{}: {}", error.error_code, error.message),
                (false, true) => error.error_code.clone(),
                _ => error.message.clone(),
            };
            if !error.fields.is_empty() {
                line.push_str(&format!(" (fields: {})", error.fields.join(", ")));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("; ");
    excerpt(text.as_bytes(), secrets, MAX_MESSAGE)
}

/// `used` and `limit` from `Sforce-Limit-Info: api-usage=used/limit` (other entries of the
/// header, such as `per-app-api-usage=…`, are ignored).
pub fn api_usage(headers: &HeaderMap) -> Option<(i64, i64)> {
    headers
        .get_all("sforce-limit-info")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split([',', ';']))
        .find_map(|entry| {
            let (name, value) = entry.trim().split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("api-usage") {
                return None;
            }
            let (used, limit) = value.trim().split_once('/')?;
            Some((used.trim().parse().ok()?, limit.trim().parse().ok()?))
        })
}

/// How long to pause the target after `REQUEST_LIMIT_EXCEEDED`.
///
/// The allocation is a rolling 24-hour window with no reset time and no `Retry-After`: calls
/// free up as old ones age out. Pauses start at [`LIMIT_PAUSE_INITIAL`] and double while the
/// first request after each pause is refused again, up to [`LIMIT_PAUSE_MAX`]; any answer that
/// is not a limit refusal starts over.
#[derive(Debug, Default)]
pub struct LimitBackoff {
    consecutive: AtomicU32,
}

impl LimitBackoff {
    /// Counts a refusal and returns the pause it calls for.
    pub fn refused(&self) -> Duration {
        let refusals = self
            .consecutive
            .fetch_add(1, Ordering::SeqCst)
            .saturating_add(1);
        Self::pause_after(refusals)
    }

    /// The pause after `refusals` consecutive refusals (1-based).
    pub fn pause_after(refusals: u32) -> Duration {
        let exponent = refusals.saturating_sub(1).min(16);
        LIMIT_PAUSE_INITIAL
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(LIMIT_PAUSE_MAX)
    }

    /// The pause the current streak calls for (the initial one when there is none).
    pub fn current(&self) -> Duration {
        Self::pause_after(self.consecutive.load(Ordering::SeqCst).max(1))
    }

    /// Ends a streak of refusals.
    pub fn accepted(&self) {
        self.consecutive.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn the_error_array_is_parsed_and_an_object_is_tolerated() {
        let array = br#"[{"message":"Required fields are missing: [Subject]","errorCode":"REQUIRED_FIELD_MISSING","fields":["Subject"]},{"message":"x","errorCode":"OTHER"}]"#;
        let errors = parse_errors(array);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].error_code, "REQUIRED_FIELD_MISSING");
        assert_eq!(errors[0].fields, vec!["Subject"]);
        assert!(errors[1].fields.is_empty());

        let object =
            br#"{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}"#;
        assert_eq!(parse_errors(object)[0].error_code, "INVALID_SESSION_ID");
        assert!(parse_errors(b"<html>Bad gateway</html>").is_empty());
        assert!(parse_errors(br#"{"id":"00U1","success":true}"#).is_empty());
    }

    #[test]
    fn messages_name_code_and_fields_and_hide_secrets() {
        let body = br#"[{"message":"bad value tok_secret","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":["Location","Subject"]}]"#;
        let text = describe(&parse_errors(body), body, &["tok_secret"]);
        assert_eq!(
            text,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION: bad value [redacted] (fields: Location, Subject)"
        );
        assert_eq!(describe(&[], b"upstream  down", &[]), "upstream down");
    }

    #[test]
    fn errors_are_classified_by_status_and_code() {
        let headers = HeaderMap::new();
        let pause = Duration::from_secs(300);
        let now = Timestamp::UNIX_EPOCH;
        let code = |code: &str| {
            vec![ApiError {
                error_code: code.into(),
                ..ApiError::default()
            }]
        };
        let limit = code("REQUEST_LIMIT_EXCEEDED");
        assert_eq!(
            classify(403, &limit, &headers, pause, now),
            Retry::After(Some(pause))
        );
        assert_eq!(
            classify(403, &code("INSUFFICIENT_ACCESS"), &headers, pause, now),
            Retry::Auth
        );
        assert_eq!(
            classify(401, &code("INVALID_SESSION_ID"), &headers, pause, now),
            Retry::Auth
        );
        for permanent in [
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "REQUIRED_FIELD_MISSING",
            "INVALID_FIELD",
        ] {
            assert_eq!(
                classify(400, &code(permanent), &headers, pause, now),
                Retry::Permanent
            );
        }
        assert_eq!(
            classify(404, &code("NOT_FOUND"), &headers, pause, now),
            Retry::Permanent
        );
        assert_eq!(classify(300, &[], &headers, pause, now), Retry::Permanent);
        assert_eq!(
            classify(400, &code("UNABLE_TO_LOCK_ROW"), &headers, pause, now),
            Retry::After(None)
        );
        assert_eq!(
            classify(503, &code("SERVER_UNAVAILABLE"), &headers, pause, now),
            Retry::After(None)
        );
        assert_eq!(classify(500, &[], &headers, pause, now), Retry::After(None));
    }

    #[test]
    fn an_unknown_field_is_recognised_by_name() {
        let body = br#"[{"message":"No such column 'EventWhoIds' on sobject of type Event","errorCode":"INVALID_FIELD","fields":[]}]"#;
        assert!(rejects_field(&parse_errors(body), "EventWhoIds"));
        assert!(!rejects_field(&parse_errors(body), "WhoId"));
        let by_fields =
            br#"[{"message":"bad","errorCode":"INVALID_FIELD","fields":["EventWhoIds"]}]"#;
        assert!(rejects_field(&parse_errors(by_fields), "EventWhoIds"));
        let other_code = br#"[{"message":"EventWhoIds","errorCode":"STRING_TOO_LONG"}]"#;
        assert!(!rejects_field(&parse_errors(other_code), "EventWhoIds"));
    }

    #[test]
    fn errors_about_linked_people_are_recognised() {
        let deleted =
            br#"[{"message":"entity is deleted","errorCode":"ENTITY_IS_DELETED","fields":[]}]"#;
        assert!(concerns_links(&parse_errors(deleted)));
        let who = br#"[{"message":"Name ID: id value of incorrect type: 003x","errorCode":"FIELD_INTEGRITY_EXCEPTION","fields":["WhoId"]}]"#;
        assert!(concerns_links(&parse_errors(who)));
        let unknown = br#"[{"message":"No such column 'EventWhoIds' on sobject of type Event","errorCode":"INVALID_FIELD"}]"#;
        assert!(!concerns_links(&parse_errors(unknown)));
        let other = br#"[{"message":"Subject: bad","errorCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","fields":["Subject"]}]"#;
        assert!(!concerns_links(&parse_errors(other)));
    }

    #[test]
    fn api_usage_is_read_from_sforce_limit_info() {
        let mut headers = HeaderMap::new();
        assert_eq!(api_usage(&headers), None);
        headers.insert(
            "sforce-limit-info",
            HeaderValue::from_static("api-usage=18/5000"),
        );
        assert_eq!(api_usage(&headers), Some((18, 5000)));
        headers.insert(
            "sforce-limit-info",
            HeaderValue::from_static(
                "per-app-api-usage=17/250(appName=calsync), api-usage=25/15000",
            ),
        );
        assert_eq!(api_usage(&headers), Some((25, 15000)));
        headers.insert(
            "sforce-limit-info",
            HeaderValue::from_static("api-usage=lots"),
        );
        assert_eq!(api_usage(&headers), None);
    }

    #[test]
    fn limit_pauses_double_up_to_an_hour_and_reset() {
        let backoff = LimitBackoff::default();
        assert_eq!(backoff.current(), LIMIT_PAUSE_INITIAL);
        assert_eq!(backoff.refused(), Duration::from_secs(300));
        assert_eq!(backoff.refused(), Duration::from_secs(600));
        assert_eq!(backoff.current(), Duration::from_secs(600));
        for _ in 0..10 {
            backoff.refused();
        }
        assert_eq!(backoff.refused(), LIMIT_PAUSE_MAX);
        backoff.accepted();
        assert_eq!(backoff.refused(), LIMIT_PAUSE_INITIAL);
    }
}
