//! The one client shape every HTTP CRM adapter uses: [`VendorClient`] does what is the same for
//! every vendor — decorating requests (credential, `Accept: application/json`, the timeout),
//! sending them through the target's [`CrmTransport`], honouring throttle signals, and turning a
//! non-success answer into a classified [`CrmError`] — and each vendor plugs in only what is its
//! own through [`Vendor`]: its auth header, how it signals throttling, and how its error bodies
//! read and classify.
//!
//! Invariants: every request still goes through [`CrmTransport::send`] (rate cap, target pause,
//! metrics, no redirects, capped bodies); the pause a vendor's signals ask for is applied to the
//! whole target; a throttled request (429) is retried in place at most once, and only when the
//! pause asked for is short enough to wait out ([`MAX_INLINE_WAIT`]) — a 429 means the request
//! was not processed, so repeating it never duplicates a write; a longer pause is left to the
//! worker's schedule. Error messages quote at most a few hundred characters of the *response*
//! body, scrubbed of every secret the vendor names. Time comes from the transport's clock.

use std::ops::Deref;
use std::time::Duration;

use jiff::Timestamp;
use reqwest::header::{ACCEPT, HeaderMap};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::CrmError;
use super::transport::{Answer, CrmTransport, MAX_INLINE_WAIT, excerpt};
use crate::retry::{Retry, classify_status, retry_after};

/// Slack added after the start of the hour when waiting for a daily allowance to reset.
pub const DAILY_RESET_MARGIN: Duration = Duration::from_secs(30);

/// The body of a request that has none (for [`VendorClient::exchange`]).
pub const NO_BODY: Option<&()> = None;

/// Longest excerpt of a response body kept in an error message.
pub const MAX_MESSAGE: usize = 200;

/// What a vendor plugs into [`VendorClient`].
pub trait Vendor: Send + Sync + 'static {
    /// Adds the vendor's credential header to a request. (Salesforce's access token comes from
    /// its session with each request, so its URL and credential always match.)
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder;

    /// The secrets an error message must never show.
    fn secrets(&self) -> Vec<&str>;

    /// Reads the vendor's throttle signals from an answer (and records its quota gauges); the
    /// pause returned is applied to the whole target. The transport already pauses on a 429
    /// (its `Retry-After`), so the default reads nothing more.
    fn signals(
        &self,
        answer: &Answer,
        now: Timestamp,
        transport: &CrmTransport,
    ) -> Option<Duration> {
        let _ = (answer, now, transport);
        None
    }

    /// The longest error message kept, in characters.
    const MESSAGE_CHARS: usize = MAX_MESSAGE;

    /// What a non-success answer says: the vendor's error body, else the body itself. It is
    /// scrubbed of [`Vendor::secrets`] and cut to [`Vendor::MESSAGE_CHARS`] afterwards.
    fn describe(&self, answer: &Answer) -> String {
        String::from_utf8_lossy(&answer.body).into_owned()
    }

    /// How a non-success answer is retried, given the pause its signals asked for.
    fn classify(&self, answer: &Answer, pause: Option<Duration>, now: Timestamp) -> Retry {
        default_classify(answer, pause, now)
    }
}

/// A 429 waits for the pause the vendor's signals asked for (else its `Retry-After`); any other
/// status is [`classify_status`]'d with its `Retry-After` read at `now`.
pub fn default_classify(answer: &Answer, pause: Option<Duration>, now: Timestamp) -> Retry {
    let asked = retry_after(&answer.headers, now);
    match answer.status {
        StatusCode::TOO_MANY_REQUESTS => Retry::After(pause.or(asked)),
        status => classify_status(status.as_u16(), asked),
    }
}

/// The classified error for a non-success answer, its message scrubbed of the vendor's secrets.
pub fn status_error<V: Vendor>(
    vendor: &V,
    operation: &'static str,
    sent: &Sent,
    now: Timestamp,
) -> CrmError {
    let described = vendor.describe(&sent.answer);
    CrmError::Status {
        operation,
        status: sent.answer.status.as_u16(),
        message: excerpt(described.as_bytes(), &vendor.secrets(), V::MESSAGE_CHARS),
        retry: vendor.classify(&sent.answer, sent.pause, now),
    }
}

/// An answer and the pause its throttle signals asked for (already applied to the target).
#[derive(Debug)]
pub struct Sent {
    /// The answer (any status).
    pub answer: Answer,
    /// The pause the vendor's throttle signals asked for, if any.
    pub pause: Option<Duration>,
}

impl Deref for Sent {
    type Target = Answer;

    fn deref(&self) -> &Answer {
        &self.answer
    }
}

/// A vendor's HTTP client: the target's transport, the vendor's plug and the request timeout.
pub struct VendorClient<V> {
    transport: CrmTransport,
    vendor: V,
    timeout: Duration,
}

impl<V: Vendor> VendorClient<V> {
    /// A client for `vendor` sending through `transport`, each request bounded by `timeout`.
    pub fn new(transport: CrmTransport, vendor: V, timeout: Duration) -> Self {
        VendorClient {
            transport,
            vendor,
            timeout,
        }
    }

    /// The HTTP client to build requests with (the credential is added when sending).
    pub fn http(&self) -> &reqwest::Client {
        self.transport.http()
    }

    /// The vendor's plug.
    pub fn vendor(&self) -> &V {
        &self.vendor
    }

    /// The target's transport.
    pub fn transport(&self) -> &CrmTransport {
        &self.transport
    }

    /// The current time, from the transport's clock.
    pub fn now(&self) -> Timestamp {
        self.transport.clock().now()
    }

    /// A request to `url` (the credential, `Accept` and the timeout are added when sending).
    pub fn request(&self, method: Method, url: &Url) -> RequestBuilder {
        self.http().request(method, url.clone())
    }

    /// Sends `method url`, with `body` as JSON when given; the answer whatever its status.
    pub async fn exchange<T: Serialize + ?Sized>(
        &self,
        operation: &'static str,
        method: Method,
        url: &Url,
        body: Option<&T>,
    ) -> Result<Sent, CrmError> {
        self.send(operation, || {
            let request = self.request(method.clone(), url);
            match body {
                Some(body) => request.json(body),
                None => request,
            }
        })
        .await
    }

    /// The answer when it is a success, else its classified error.
    pub fn success(&self, operation: &'static str, sent: Sent) -> Result<Sent, CrmError> {
        match sent.status.is_success() {
            true => Ok(sent),
            false => Err(self.status_error(operation, &sent)),
        }
    }

    /// Whether the addressed thing exists: true for a success, false for a 404, the classified
    /// error of any other answer.
    pub fn exists(&self, operation: &'static str, sent: &Sent) -> Result<bool, CrmError> {
        match sent.status {
            status if status.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.status_error(operation, sent)),
        }
    }

    /// Sends the request `build` makes (called again for the one in-place retry of a short 429)
    /// with the credential, `Accept: application/json` and the timeout; applies the pause the
    /// vendor's signals ask for. Returns the answer whatever its status.
    pub async fn send(
        &self,
        operation: &'static str,
        build: impl Fn() -> RequestBuilder,
    ) -> Result<Sent, CrmError> {
        let mut retried = false;
        loop {
            let request = self
                .vendor
                .authorize(build())
                .header(ACCEPT, "application/json")
                .timeout(self.timeout);
            let answer = self.transport.send(operation, request).await?;
            let pause = self.vendor.signals(&answer, self.now(), &self.transport);
            if let Some(pause) = pause {
                self.transport.pause_for(pause);
            }
            let short = pause.is_some_and(|pause| pause <= MAX_INLINE_WAIT);
            if answer.status == StatusCode::TOO_MANY_REQUESTS && short && !retried {
                retried = true;
                continue;
            }
            return Ok(Sent { answer, pause });
        }
    }

    /// The classified error for a non-success answer.
    pub fn status_error(&self, operation: &'static str, sent: &Sent) -> CrmError {
        status_error(&self.vendor, operation, sent, self.now())
    }
}

/// The JSON body of a success answer; a body of another shape is a protocol error saying what
/// it should have held.
pub fn decode<T: DeserializeOwned>(
    operation: &'static str,
    sent: &Sent,
    what: &str,
) -> Result<T, CrmError> {
    serde_json::from_slice(&sent.body).map_err(|_| protocol_error(operation, what))
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

/// [`status_error`] for an answer built by hand, at a fixed time, for adapters' unit tests.
#[cfg(test)]
pub fn test_error<V: Vendor>(
    vendor: &V,
    operation: &'static str,
    answer: Answer,
    pause: Option<Duration>,
) -> CrmError {
    let now = "2026-07-01T10:15:00Z".parse().unwrap();
    status_error(vendor, operation, &Sent { answer, pause }, now)
}

#[cfg(test)]
mod tests;
