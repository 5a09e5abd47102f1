//! Classification of outbound failures, and backoff.
//!
//! Invariant 7: every outbound error (Nylas or CRM) is classified as [`Retry::After`],
//! [`Retry::Permanent`] or [`Retry::Auth`] from its status and headers — never guessed from a
//! message. Each client's error type exposes `fn retry(&self) -> Retry`; the worker decides what
//! to do from that alone. Vendor-specific signals (HubSpot's `policyName`, Salesforce's 403
//! `REQUEST_LIMIT_EXCEEDED`) are classified by their adapters on top of [`classify_status`].
//!
//! Whether a failure is the *event's* or the whole *upstream's* (an outage, a throttle) is decided
//! by the worker's circuit breaker (`worker::breaker`) from the same data; [`gate`] is the shared
//! switch that holds back every request to an upstream while it is paused.

pub mod gate;

use std::time::Duration;

use jiff::Timestamp;

use reqwest::header::{HeaderMap, RETRY_AFTER};

/// What to do about a failed outbound call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again later: after the given delay when the server said so, else after backoff.
    After(Option<Duration>),
    /// Trying again will not help (the request itself is wrong): dead-letter.
    Permanent,
    /// Credentials are missing, wrong or expired: wait for an operator, do not dead-letter.
    Auth,
}

/// Classifies a non-success HTTP status. `retry_after` is the server's `Retry-After`, if any.
///
/// 408, 425, 429 and 5xx are retryable; 401 and 403 are auth failures; other 4xx are permanent.
/// Anything else unexpected (1xx, 3xx) is retryable: a proxy or a misconfigured endpoint may be
/// fixed without the request changing.
pub fn classify_status(status: u16, retry_after: Option<Duration>) -> Retry {
    match status {
        401 | 403 => Retry::Auth,
        408 | 425 | 429 => Retry::After(retry_after),
        400..=499 => Retry::Permanent,
        _ => Retry::After(retry_after),
    }
}

/// Classifies a transport error (no HTTP status): timeouts and connection failures are
/// retryable; a request that could not even be built is permanent.
pub fn classify_transport(error: &reqwest::Error) -> Retry {
    if error.is_builder() {
        Retry::Permanent
    } else {
        Retry::After(None)
    }
}

/// True when nothing answered at all (connection refused or reset, DNS failure, TLS handshake):
/// the request's content cannot have caused it, so it is the upstream's trouble.
pub fn is_unreachable(error: &reqwest::Error) -> bool {
    error.is_connect()
}

/// True when an answer shows the upstream up and accepting calsync's requests: a success, or a
/// client error about the request itself (400, 404, 409, 422, …). Throttling (429), timeouts
/// (408), server errors and rejected credentials are not healthy answers.
pub fn is_healthy_status(status: u16) -> bool {
    (200..300).contains(&status) || classify_status(status, None) == Retry::Permanent
}

/// Parses `Retry-After` as delay-seconds or an HTTP date (relative to `now`, which callers take
/// from their [`crate::clock::Clock`]). A date in the past means "now" (zero); an unparseable
/// value is ignored.
pub fn retry_after(headers: &HeaderMap, now: Timestamp) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = Timestamp::try_from(httpdate::parse_http_date(value).ok()?).ok()?;
    if at <= now {
        return Some(Duration::ZERO);
    }
    Duration::try_from(at.duration_since(now)).ok()
}

/// Exponential backoff with full jitter, between `initial` and `max`.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Upper bound of the first delay.
    pub initial: Duration,
    /// Upper bound of any delay.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling for the delay after `failures` consecutive failures (1-based):
    /// `initial * 2^(failures-1)`, capped at `max`.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exponent = failures.saturating_sub(1).min(32);
        self.initial
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.max)
    }

    /// A random delay for the given failure count: uniformly between half the ceiling and the
    /// ceiling ("equal jitter"), so retries spread out but never collapse to zero.
    pub fn delay(&self, failures: u32) -> Duration {
        let ceiling = self.ceiling(failures);
        let half = ceiling / 2;
        let spread = ceiling.saturating_sub(half).as_millis() as u64;
        half + Duration::from_millis(rand::random_range(0..=spread))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn statuses_are_classified() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert_eq!(
                classify_status(status, None),
                Retry::After(None),
                "{status}"
            );
        }
        for status in [400, 404, 409, 422] {
            assert_eq!(classify_status(status, None), Retry::Permanent, "{status}");
        }
        for status in [401, 403] {
            assert_eq!(classify_status(status, None), Retry::Auth, "{status}");
        }
        let wait = Some(Duration::from_secs(2));
        assert_eq!(classify_status(429, wait), Retry::After(wait));
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let system = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(2)));

        let later = httpdate::fmt_http_date(system + Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::from_secs(30)));

        let past = httpdate::fmt_http_date(system - Duration::from_secs(30));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&past).unwrap());
        assert_eq!(retry_after(&headers, now), Some(Duration::ZERO));

        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers, now), None);
    }

    #[test]
    fn healthy_statuses_are_successes_and_request_errors() {
        for status in [200, 201, 204, 400, 404, 409, 422] {
            assert!(is_healthy_status(status), "{status}");
        }
        for status in [301, 401, 403, 408, 429, 500, 503] {
            assert!(!is_healthy_status(status), "{status}");
        }
    }

    /// A server that accepts connections and never answers.
    async fn silent_server() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
            }
        });
        (address, task)
    }

    #[tokio::test]
    async fn real_timeouts_are_retryable_but_not_unreachable() {
        let (address, server) = silent_server().await;
        let error = reqwest::Client::new()
            .get(format!("http://{address}/"))
            .timeout(Duration::from_millis(50))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_timeout(), "{error:?}");
        assert_eq!(classify_transport(&error), Retry::After(None));
        assert!(!is_unreachable(&error));
        server.abort();
    }

    #[tokio::test]
    async fn real_connection_failures_are_retryable_and_unreachable() {
        // Bind, learn the port, close: nothing listens there any more.
        let address = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let error = reqwest::Client::new()
            .get(format!("http://{address}/"))
            .send()
            .await
            .unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert_eq!(classify_transport(&error), Retry::After(None));
        assert!(is_unreachable(&error));
    }

    #[tokio::test]
    async fn requests_that_cannot_be_built_are_permanent() {
        let error = reqwest::Client::new()
            .get("http://exa mple.com/")
            .send()
            .await
            .unwrap_err();
        assert!(error.is_builder(), "{error:?}");
        assert_eq!(classify_transport(&error), Retry::Permanent);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let backoff = Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(600),
        };
        assert_eq!(backoff.ceiling(1), Duration::from_secs(1));
        assert_eq!(backoff.ceiling(4), Duration::from_secs(8));
        assert_eq!(backoff.ceiling(40), Duration::from_secs(600));
        for failures in 1..20 {
            let delay = backoff.delay(failures);
            let ceiling = backoff.ceiling(failures);
            assert!(
                delay <= ceiling && delay >= ceiling / 2,
                "{failures}: {delay:?}"
            );
        }
    }
}
