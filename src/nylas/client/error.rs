//! [`NylasError`]: a failed Nylas call, classified for the worker, and the reading of Nylas error
//! bodies (`{request_id, error: {type, message, provider_error}}`).
//!
//! Invariants: the classification comes from the status and `Retry-After` only
//! ([`crate::retry::classify_status`]); the API key never appears in an error (the error body is
//! scrubbed of it in case a proxy echoes the request); texts taken from bodies are truncated.

use std::fmt;

use jiff::Timestamp;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::Value;

use super::endpoint::Endpoint;
use crate::nylas::lenient;
use crate::retry::{Retry, classify_status, classify_transport, retry_after};

/// Longest text kept from a response body.
const MAX_TEXT: usize = 200;

/// A failed Nylas call.
#[derive(Debug, thiserror::Error)]
pub enum NylasError {
    /// No API key is configured: nothing was sent.
    #[error("{endpoint}: no Nylas API key is configured (set nylas.api_key or NYLAS_API_KEY)")]
    MissingApiKey {
        /// The operation that was not sent.
        endpoint: &'static Endpoint,
    },
    /// An id that cannot be placed in a URL path (empty, `.` or `..`): nothing was sent.
    #[error("{endpoint}: the id {id:?} cannot be addressed in a URL path")]
    InvalidId {
        /// The operation that was not sent.
        endpoint: &'static Endpoint,
        /// The id, as given.
        id: String,
    },
    /// Nylas answered with a non-success status.
    #[error("{endpoint} answered HTTP {status}{}", Detail(.error_type, .message))]
    Status {
        /// The operation.
        endpoint: &'static Endpoint,
        /// The HTTP status.
        status: u16,
        /// `error.type`, e.g. `api.authentication_error`, when the body had one.
        error_type: Option<String>,
        /// `error.message` (or the start of a non-JSON body), truncated.
        message: Option<String>,
        /// `error.provider_error` as compact JSON, truncated: present when the provider
        /// (Google, Microsoft, …) rejected the request on the grant's behalf.
        provider_error: Option<String>,
        /// How to retry, from the status and `Retry-After`.
        retry: Retry,
    },
    /// No answer: timeout, connection refused, TLS failure, or a body cut short.
    #[error("{endpoint} failed")]
    Transport {
        /// The operation.
        endpoint: &'static Endpoint,
        /// Why no answer came.
        #[source]
        source: reqwest::Error,
    },
    /// Every Nylas request is held back (throttled, or Nylas is failing for everyone) for longer
    /// than a request waits in place: nothing was sent.
    #[error("{endpoint} held back: calsync is pausing its Nylas requests for another {}s", wait.as_secs())]
    HeldBack {
        /// The operation held back.
        endpoint: &'static Endpoint,
        /// How much longer Nylas requests are paused.
        wait: std::time::Duration,
    },
    /// Nylas answered with a redirect, which calsync never follows: the request was not
    /// performed. Permanent for a write, retried for a read ([`crate::outbound::redirect_retry`]).
    #[error("{endpoint} {redirect}")]
    Redirected {
        /// The operation.
        endpoint: &'static Endpoint,
        /// The redirect and where it pointed.
        redirect: crate::outbound::Redirect,
        /// Permanent for a write, retried for a read.
        retry: Retry,
    },
    /// A success answer with a body over [`crate::outbound::MAX_BODY_BYTES`] (read no further
    /// than the cap): retried.
    #[error("{endpoint} answered with {oversize}")]
    TooLarge {
        /// The operation.
        endpoint: &'static Endpoint,
        /// How large the body was (at least).
        oversize: crate::outbound::Oversize,
    },
    /// A success answer whose body does not have the documented shape.
    #[error("{endpoint} answered with a body calsync cannot read")]
    Decode {
        /// The operation.
        endpoint: &'static Endpoint,
        /// Why the body does not decode.
        #[source]
        source: serde_json::Error,
    },
}

/// Formats `: type: message` from whichever parts are present.
struct Detail<'a>(&'a Option<String>, &'a Option<String>);

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(kind), Some(message)) => write!(f, ": {kind}: {message}"),
            (Some(text), None) | (None, Some(text)) => write!(f, ": {text}"),
            (None, None) => Ok(()),
        }
    }
}

impl NylasError {
    /// What to do about it: retry (after a delay), give up on the request, or wait for
    /// credentials (a missing or rejected key, an expired grant).
    pub fn retry(&self) -> Retry {
        match self {
            NylasError::MissingApiKey { .. } => Retry::Auth,
            NylasError::InvalidId { .. } => Retry::Permanent,
            NylasError::Status { retry, .. } | NylasError::Redirected { retry, .. } => *retry,
            NylasError::TooLarge { .. } => Retry::After(None),
            NylasError::Transport { source, .. } => classify_transport(source),
            NylasError::Decode { .. } => Retry::After(None),
            NylasError::HeldBack { wait, .. } => Retry::After(Some(*wait)),
        }
    }

    /// The HTTP status, when Nylas answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            NylasError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when a 401 says the *grant* (the connected account) is invalid or expired rather
    /// than the API key: the caller should park that grant's work until it is re-authenticated
    /// (`grant.updated`), not stop everything.
    ///
    /// A heuristic, from what the Nylas spec and error reference document: both failures are 401
    /// and both may carry the generic type (`unauthorized`, `api.authentication_error`), so the
    /// status alone cannot tell them apart. What distinguishes a grant failure:
    /// - the call was about one grant (`/v3/grants/{grant_id}/…`); a 401 from `/v3/grants` or
    ///   `/v3/webhooks` can only be the key;
    /// - and either the error type is in the `grant.` family (the error reference lists
    ///   `grant.refresh_token_invalid` as a 401), or the body carries `provider_error` (the spec's
    ///   401 schema gives `{error: invalid_grant}` as its example: the provider refused the
    ///   grant's token, which only happens after Nylas accepted the API key), or the type or
    ///   message names the grant. A bad API key is refused by Nylas itself, before any provider
    ///   is involved, with no `provider_error` and a message about the key.
    pub fn is_grant_auth_failure(&self) -> bool {
        let NylasError::Status {
            endpoint,
            status: 401,
            error_type,
            message,
            provider_error,
            ..
        } = self
        else {
            return false;
        };
        endpoint.is_grant_scoped()
            && (is_grant_type(error_type)
                || provider_error.is_some()
                || names_grant(error_type)
                || names_grant(message))
    }

    /// True when a 404 is about the grant rather than the requested object (error type
    /// `grant.not_found`, or a message naming the grant and not the event): the object may well
    /// exist, so this must never be read as "deleted".
    pub fn is_grant_not_found(&self) -> bool {
        let NylasError::Status {
            status: 404,
            error_type,
            message,
            ..
        } = self
        else {
            return false;
        };
        let message_names_only_grant = message.as_deref().is_some_and(|message| {
            let message = message.to_ascii_lowercase();
            message.contains("grant") && !message.contains("event")
        });
        is_grant_type(error_type) || message_names_only_grant
    }

    /// The error for a non-success answer. `api_key` is scrubbed from every text kept.
    pub(super) fn from_answer(
        endpoint: &'static Endpoint,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        api_key: &SecretString,
        now: Timestamp,
    ) -> Self {
        let retry = classify_status(status.as_u16(), retry_after(headers, now));
        let (error_type, message, provider_error) = read_error_body(body);
        let scrub = |text: Option<String>| text.map(|text| scrub_secret(text, api_key));
        NylasError::Status {
            endpoint,
            status: status.as_u16(),
            error_type: scrub(error_type),
            message: scrub(message),
            provider_error: scrub(provider_error),
            retry,
        }
    }
}

fn is_grant_type(error_type: &Option<String>) -> bool {
    error_type
        .as_deref()
        .is_some_and(|kind| kind.starts_with("grant."))
}

fn names_grant(text: &Option<String>) -> bool {
    text.as_deref()
        .is_some_and(|text| text.to_ascii_lowercase().contains("grant"))
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default, deserialize_with = "lenient::option")]
    error: Option<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type", default, deserialize_with = "lenient::string")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "lenient::string")]
    message: Option<String>,
    #[serde(default)]
    provider_error: Option<Value>,
}

/// `(type, message, provider_error)` from an error body; a body that is not a Nylas error gives
/// its own start as the message.
fn read_error_body(body: &[u8]) -> (Option<String>, Option<String>, Option<String>) {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody {
            error: Some(detail),
        }) => {
            let provider_error = detail
                .provider_error
                .filter(|value| !is_empty_value(value))
                .map(|value| truncate(&value.to_string()));
            (
                detail.kind.map(|kind| truncate(&kind)),
                detail.message.map(|message| truncate(&message)),
                provider_error,
            )
        }
        _ => {
            let text = truncate(&String::from_utf8_lossy(body));
            (None, (!text.is_empty()).then_some(text), None)
        }
    }
}

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

/// Collapses whitespace and keeps at most [`MAX_TEXT`] characters.
fn truncate(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match collapsed.char_indices().nth(MAX_TEXT) {
        Some((cut, _)) => format!("{}…", &collapsed[..cut]),
        None => collapsed,
    }
}

fn scrub_secret(text: String, secret: &SecretString) -> String {
    let secret = secret.expose_secret();
    if secret.is_empty() || !text.contains(secret) {
        return text;
    }
    text.replace(secret, "[redacted]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nylas::client::endpoint::{GET_EVENT, LIST_GRANTS};

    fn error(endpoint: &'static Endpoint, status: u16, body: &str) -> NylasError {
        NylasError::from_answer(
            endpoint,
            StatusCode::from_u16(status).unwrap(),
            &HeaderMap::new(),
            body.as_bytes(),
            &SecretString::from("nyk_v0_secret"),
            Timestamp::now(),
        )
    }

    #[test]
    fn reads_type_message_and_provider_error() {
        let body = r#"{"request_id":"r","error":{"type":"unauthorized","message":"Unauthorized",
            "provider_error":{"error":"invalid_grant"}}}"#;
        let NylasError::Status {
            error_type,
            message,
            provider_error,
            ..
        } = error(GET_EVENT, 401, body)
        else {
            panic!("not a status error");
        };
        assert_eq!(error_type.as_deref(), Some("unauthorized"));
        assert_eq!(message.as_deref(), Some("Unauthorized"));
        assert_eq!(
            provider_error.as_deref(),
            Some(r#"{"error":"invalid_grant"}"#)
        );
    }

    #[test]
    fn non_json_bodies_are_kept_short() {
        let body = format!("<html>{}</html>", "x ".repeat(500));
        let failure = error(LIST_GRANTS, 502, &body);
        let text = failure.to_string();
        assert!(
            text.starts_with("GET /v3/grants answered HTTP 502: <html>x x"),
            "{text}"
        );
        assert!(text.chars().count() < 260, "{text}");
        assert_eq!(
            error(LIST_GRANTS, 500, "").to_string(),
            "GET /v3/grants answered HTTP 500"
        );
    }

    #[test]
    fn grant_failures_are_told_from_key_failures() {
        let key = r#"{"error":{"type":"api.authentication_error","message":"Unauthorized"}}"#;
        let expired = r#"{"error":{"type":"grant.refresh_token_invalid","message":"x"}}"#;
        let provider = r#"{"error":{"type":"unauthorized","message":"Unauthorized",
            "provider_error":{"code":401,"message":"Request had invalid authentication credentials."}}}"#;
        let named = r#"{"error":{"type":"unauthorized","message":"The grant has expired"}}"#;
        assert!(!error(GET_EVENT, 401, key).is_grant_auth_failure());
        assert!(error(GET_EVENT, 401, expired).is_grant_auth_failure());
        assert!(error(GET_EVENT, 401, provider).is_grant_auth_failure());
        assert!(error(GET_EVENT, 401, named).is_grant_auth_failure());
        // Not grant-scoped: only the key can be at fault.
        assert!(!error(LIST_GRANTS, 401, provider).is_grant_auth_failure());
        // Only 401s.
        assert!(!error(GET_EVENT, 403, expired).is_grant_auth_failure());
        let empty_provider = r#"{"error":{"type":"unauthorized","provider_error":{}}}"#;
        assert!(!error(GET_EVENT, 401, empty_provider).is_grant_auth_failure());
    }

    #[test]
    fn grant_not_found_is_not_an_event_not_found() {
        let event =
            r#"{"error":{"type":"not_found_error","message":"requested object not found"}}"#;
        let event_named =
            r#"{"error":{"type":"not_found_error","message":"event not found for grant"}}"#;
        let grant = r#"{"error":{"type":"grant.not_found","message":"Grant not found."}}"#;
        let grant_message = r#"{"error":{"type":"not_found_error","message":"grant not found"}}"#;
        assert!(!error(GET_EVENT, 404, event).is_grant_not_found());
        assert!(!error(GET_EVENT, 404, event_named).is_grant_not_found());
        assert!(error(GET_EVENT, 404, grant).is_grant_not_found());
        assert!(error(GET_EVENT, 404, grant_message).is_grant_not_found());
        assert!(!error(GET_EVENT, 400, grant).is_grant_not_found());
    }

    #[test]
    fn an_echoed_key_is_scrubbed() {
        let body = r#"{"error":{"type":"x","message":"bad header Bearer nyk_v0_secret",
            "provider_error":"nyk_v0_secret"}}"#;
        let failure = error(GET_EVENT, 401, body);
        let shown = format!("{failure} {failure:?}");
        assert!(!shown.contains("nyk_v0_secret"), "{shown}");
        assert!(shown.contains("Bearer [redacted]"), "{shown}");
    }
}
