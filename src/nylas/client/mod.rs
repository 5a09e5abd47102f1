//! Nylas v3 API client: events, calendars and grants (read), webhook subscriptions (manage).
//!
//! Invariants:
//! - Every request goes to `api_uri` (injectable: tests point it at a fake) through one of the
//!   [`endpoint`] constants, whose paths, methods and query parameters a contract test checks
//!   against the official OpenAPI spec; every id in a path is percent-encoded.
//! - Every request carries `Authorization: Bearer <api_key>`, `Accept: application/json` and the
//!   per-request timeout `nylas.timeout`; `Accept-Encoding: gzip` is added, and gzip answers
//!   decoded, by reqwest's decompression layer (the `gzip` feature). Setting that header by hand
//!   would make a client built with gzip off receive bodies it cannot decode.
//! - With `nylas.requests_per_second > 0`, requests are spaced to at most that rate (one limiter
//!   per client, shared by its clones: every worker, backfill and command of the process).
//! - Nylas-wide pause: one [`UpstreamGate`] per client, shared by its clones. A 429 pauses every
//!   request for the `Retry-After` Nylas gave (else [`DEFAULT_THROTTLE_PAUSE`]); the worker's
//!   health tracker pauses the same gate while Nylas fails for everyone. A request that finds
//!   the gate paused waits a short pause out, and fails at once with [`NylasError::HeldBack`]
//!   (nothing sent) on a long one. Healthy answers are recorded on the gate.
//! - Every failure is a [`NylasError`] classified from status and headers; the API key never
//!   appears in an error, a log or a `Debug` output.
//! - Strict answers ([`crate::outbound`]): a redirect is never followed but returned as
//!   [`NylasError::Redirected`] naming its `Location`; bodies are read by streaming with a cap
//!   ([`NylasError::TooLarge`] for a success over it; an error answer keeps only its start).
//! - List answers are lenient: an element that cannot be read is left out and counted
//!   ([`Page::skipped`]), so one odd event never blocks a calendar.

pub mod endpoint;
mod error;
mod events;
mod subscriptions;

#[cfg(test)]
mod contract;
#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;

use std::fmt;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use crate::clock::Clock;
use crate::config::NylasSettings;
use crate::outbound::{self, BodyError};
use crate::retry::gate::UpstreamGate;
use crate::telemetry::metrics::Metrics;
use endpoint::Endpoint;

pub use error::NylasError;
pub use events::{EventQuery, MAX_PAGE_SIZE, Page};
pub use subscriptions::{CreatedSubscription, NewSubscription, Subscription};

/// How long a 429 without `Retry-After` pauses every Nylas request.
pub const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause a request waits out in place; longer pauses fail it with
/// [`NylasError::HeldBack`].
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(30);

/// The gate's target name (metric label, logs).
const TARGET: &str = "nylas";

/// The Nylas API client. Cheap to clone (clones share the HTTP pool, the rate limiter and the
/// pause).
#[derive(Clone)]
pub struct NylasClient {
    http: reqwest::Client,
    base: Url,
    api_key: Option<SecretString>,
    timeout: Duration,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    gate: UpstreamGate,
    metrics: Option<Arc<Metrics>>,
    clock: Clock,
}

impl fmt::Debug for NylasClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NylasClient")
            .field("base", &self.base.as_str())
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("timeout", &self.timeout)
            .field("rate_limited", &self.limiter.is_some())
            .finish()
    }
}

/// One request: the endpoint, the ids for its path placeholders (in order) and its query.
struct Call<'a> {
    endpoint: &'static Endpoint,
    ids: Vec<&'a str>,
    query: Vec<(&'static str, String)>,
}

impl<'a> Call<'a> {
    fn new(endpoint: &'static Endpoint, ids: &[&'a str]) -> Self {
        Call {
            endpoint,
            ids: ids.to_vec(),
            query: Vec::new(),
        }
    }

    fn query(mut self, name: &'static str, value: impl ToString) -> Self {
        debug_assert!(
            self.endpoint.query.contains(&name),
            "{}: query parameter {name} is not declared",
            self.endpoint
        );
        self.query.push((name, value.to_string()));
        self
    }
}

/// The raw answer to a request.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The body type of calls without a body.
const NO_BODY: Option<&()> = None;

/// `{request_id, data}`: the envelope of single-object answers.
#[derive(serde::Deserialize)]
struct Data<T> {
    data: T,
}

impl NylasClient {
    /// A client for the configured API, sharing `http`'s connection pool. A missing API key is
    /// not an error here: each call then fails with [`NylasError::MissingApiKey`].
    pub fn new(settings: &NylasSettings, http: reqwest::Client) -> Self {
        let limiter = NonZeroU32::new(settings.requests_per_second)
            .map(|rate| Arc::new(RateLimiter::direct(Quota::per_second(rate))));
        NylasClient {
            http,
            base: settings.api_uri.clone(),
            api_key: settings.api_key.clone(),
            timeout: settings.timeout,
            limiter,
            gate: UpstreamGate::new(TARGET, None),
            metrics: None,
            clock: Clock::System,
        }
    }

    /// The same client with another time source (for `Retry-After` dates).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The client's time source (callers that date what they ask Nylas for use the same).
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Counts every request in `metrics` (by endpoint and status) and reports the pause in
    /// `calsync_target_paused{target="nylas"}`. Call it before cloning the client: it gives
    /// this client a fresh gate.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.gate = UpstreamGate::new(TARGET, Some(metrics.clone()));
        self.metrics = Some(metrics);
        self
    }

    /// The gate every request to Nylas passes (its pause and health), shared with the worker's
    /// health tracker.
    pub fn gate(&self) -> &UpstreamGate {
        &self.gate
    }

    fn count(&self, endpoint: &'static Endpoint, status: Option<StatusCode>) {
        if let Some(metrics) = &self.metrics {
            metrics.nylas_request(&endpoint.to_string(), status.map(|status| status.as_u16()));
        }
    }

    /// Sends a call and returns the answer, whatever its status.
    async fn send<B: Serialize + ?Sized>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<Answer, NylasError> {
        let endpoint = call.endpoint;
        let key = self
            .api_key
            .as_ref()
            .ok_or(NylasError::MissingApiKey { endpoint })?;
        let url = endpoint
            .url(&self.base, &call.ids)
            .map_err(|bad| NylasError::InvalidId {
                endpoint,
                id: bad.0,
            })?;
        self.gate
            .admit(MAX_INLINE_WAIT)
            .await
            .map_err(|wait| NylasError::HeldBack { endpoint, wait })?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let mut request = self
            .http
            .request(endpoint.verb.method(), url)
            .bearer_auth(key.expose_secret())
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        if !call.query.is_empty() {
            request = request.query(&call.query);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let transport = |source| NylasError::Transport { endpoint, source };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                self.count(endpoint, None);
                return Err(transport(error));
            }
        };
        let status = response.status();
        self.count(endpoint, Some(status));
        let headers = response.headers().clone();
        self.observe(endpoint, status, &headers);
        if let Some(redirect) = outbound::redirect(response.url(), status, &headers) {
            let retry = outbound::redirect_retry(&endpoint.verb.method());
            return Err(NylasError::Redirected {
                endpoint,
                redirect,
                retry,
            });
        }
        let body = outbound::read_body(response)
            .await
            .map_err(|error| match error {
                BodyError::Oversize(oversize) => NylasError::TooLarge { endpoint, oversize },
                BodyError::Read(source) => transport(source),
            })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Pauses every request on a 429; records a healthy answer on the gate.
    fn observe(&self, endpoint: &'static Endpoint, status: StatusCode, headers: &HeaderMap) {
        let now = self.clock.now();
        let pause = self
            .gate
            .observe(status.as_u16(), headers, now, DEFAULT_THROTTLE_PAUSE);
        if let Some(pause) = pause {
            tracing::warn!(
                endpoint = %endpoint,
                retry.after_ms = pause.as_millis() as u64,
                "Nylas is throttling calsync; holding back all requests to it."
            );
        }
    }

    /// The body of a success answer, or the classified error of any other.
    fn success(&self, endpoint: &'static Endpoint, answer: Answer) -> Result<Bytes, NylasError> {
        if answer.status.is_success() {
            Ok(answer.body)
        } else {
            Err(self.status_error(endpoint, &answer))
        }
    }

    fn status_error(&self, endpoint: &'static Endpoint, answer: &Answer) -> NylasError {
        match &self.api_key {
            Some(key) => NylasError::from_answer(
                endpoint,
                answer.status,
                &answer.headers,
                &answer.body,
                key,
                self.clock.now(),
            ),
            // Unreachable in practice: nothing is sent without a key.
            None => NylasError::MissingApiKey { endpoint },
        }
    }

    /// Sends a call that must succeed and decodes its body.
    async fn fetch<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<T, NylasError> {
        let endpoint = call.endpoint;
        let answer = self.send(call, body).await?;
        let body = self.success(endpoint, answer)?;
        decode(endpoint, &body)
    }
}

/// Decodes a JSON body.
fn decode<T: DeserializeOwned>(endpoint: &'static Endpoint, body: &[u8]) -> Result<T, NylasError> {
    serde_json::from_slice(body).map_err(|source| NylasError::Decode { endpoint, source })
}
