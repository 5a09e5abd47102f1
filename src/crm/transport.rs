//! The CRM request transport: every HTTP request an adapter sends goes through
//! [`CrmTransport::send`], which applies what must hold across all workers for the CRM upstream:
//!
//! - **Rate cap.** `sync.crm_requests_per_second` (0 = none) as a token bucket (`governor`),
//!   shared by every worker of the process and by every other caller of the adapter (backfill,
//!   commands): one transport per process.
//! - **Upstream pause.** The CRM's [`UpstreamGate`]. A 429 pauses *every* request to the CRM
//!   for the time the CRM asked (`Retry-After`), or [`DEFAULT_THROTTLE_PAUSE`] when it did not
//!   say; adapters whose vendor signals throttling differently (Salesforce's 403
//!   `REQUEST_LIMIT_EXCEEDED`, a HubSpot daily cap) call [`CrmTransport::pause_for`]; the
//!   worker's circuit breaker ([`crate::worker::breaker`]) pauses the same gate when the CRM
//!   fails for every event (an outage). A request that finds the CRM paused waits when the
//!   pause is short, and
//!   otherwise fails at once with [`CrmError::HeldBack`] (nothing sent) so the worker
//!   reschedules the job without holding a slot for minutes.
//! - **Healthy answers.** Every healthy answer ([`crate::retry::is_healthy_status`]) is recorded
//!   on the gate, which is how the worker learns that the CRM works again after an outage.
//! - **Metrics.** Requests by kind, operation and status, and their latency.
//! - **Strict answers** ([`crate::outbound`]): a redirect is never followed but returned as
//!   [`CrmError::Redirected`] naming its `Location`; bodies are read by streaming with a cap
//!   ([`CrmError::TooLarge`] for a success over it; an error answer keeps only its start).
//!
//! It uses tokio's clock, so pauses are testable with paused time.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use tokio::time::Instant;

use super::CrmError;
use crate::clock::Clock;
use crate::outbound::{self, BodyError};
use crate::retry::gate::UpstreamGate;
use crate::telemetry::metrics::Metrics;

/// How long a 429 without `Retry-After` pauses the target.
pub const DEFAULT_THROTTLE_PAUSE: Duration = Duration::from_secs(1);

/// The longest pause a request waits out in place; longer pauses fail the request so the job
/// is rescheduled.
pub const MAX_INLINE_WAIT: Duration = Duration::from_secs(30);

/// The answer to a request, whatever its status.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, read up to the cap of [`crate::outbound`].
    pub body: Bytes,
}

/// Shared by all adapters' requests to one target. Cheap to clone.
#[derive(Clone)]
pub struct CrmTransport {
    http: reqwest::Client,
    kind: &'static str,
    limiter: Option<Arc<DefaultDirectRateLimiter>>,
    gate: UpstreamGate,
    metrics: Arc<Metrics>,
    clock: Clock,
}

impl CrmTransport {
    /// A transport for a target of `kind`, capped at `requests_per_second` (0 = no cap).
    pub fn new(
        http: reqwest::Client,
        kind: &'static str,
        requests_per_second: u32,
        metrics: Arc<Metrics>,
    ) -> Self {
        let limiter = NonZeroU32::new(requests_per_second)
            .map(|rate| Arc::new(RateLimiter::direct(Quota::per_second(rate))));
        CrmTransport {
            http,
            kind,
            limiter,
            gate: UpstreamGate::new(format!("crm:{kind}"), Some(metrics.clone())),
            metrics,
            clock: Clock::System,
        }
    }

    /// The same transport with another time source, which every adapter sending through it uses
    /// for its "when" decisions (`Retry-After` dates, daily resets, recovery windows).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time source of the target's adapter.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The HTTP client to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// The metrics handle (for vendor-specific gauges).
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The CRM upstream's gate (its pause and healthy answers), shared with the worker's breaker.
    pub fn gate(&self) -> &UpstreamGate {
        &self.gate
    }

    /// Holds back every request to the target for `pause` (extends, never shortens, a pause).
    pub fn pause_for(&self, pause: Duration) {
        self.gate.pause_for(pause);
        self.log_pause(pause);
    }

    fn log_pause(&self, pause: Duration) {
        tracing::warn!(
            crm.kind = self.kind,
            retry.after_ms = pause.as_millis() as u64,
            "The CRM is throttling calsync; holding back all requests to it."
        );
    }

    /// How long the target stays paused (zero when it is not).
    pub fn remaining_pause(&self) -> Duration {
        self.gate.remaining()
    }

    /// Sends a request after the pause and the rate cap allow it; records metrics; pauses the
    /// target on 429. Returns the answer whatever its status, except a redirect (never followed:
    /// [`CrmError::Redirected`]) and a success body over the cap ([`CrmError::TooLarge`]); an
    /// error answer's body is kept only up to [`crate::outbound::MAX_ERROR_BODY_BYTES`].
    pub async fn send(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<Answer, CrmError> {
        let transport = |source| CrmError::Transport { operation, source };
        let (client, request) = request.build_split();
        let request = request.map_err(transport)?;
        let (method, url) = (request.method().clone(), request.url().clone());
        self.gate
            .admit(MAX_INLINE_WAIT)
            .await
            .map_err(|wait| CrmError::HeldBack { operation, wait })?;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let started = Instant::now();
        let response = match client.execute(request).await {
            Ok(response) => response,
            Err(error) => {
                self.metrics
                    .crm_request(self.kind, operation, None, started.elapsed());
                return Err(transport(error));
            }
        };
        let status = response.status();
        let headers = response.headers().clone();
        if let Some(redirect) = outbound::redirect(&url, status, &headers) {
            self.record(operation, status, &headers, started);
            let retry = outbound::redirect_retry(&method);
            return Err(CrmError::Redirected {
                operation,
                redirect,
                retry,
            });
        }
        let body = outbound::read_body(response).await;
        self.record(operation, status, &headers, started);
        let body = body.map_err(|error| match error {
            BodyError::Oversize(oversize) => CrmError::TooLarge {
                operation,
                oversize,
            },
            BodyError::Read(source) => transport(source),
        })?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// Records an answer: metrics, the pause a 429 asks for, a healthy answer on the gate.
    fn record(
        &self,
        operation: &'static str,
        status: StatusCode,
        headers: &HeaderMap,
        started: Instant,
    ) {
        self.metrics.crm_request(
            self.kind,
            operation,
            Some(status.as_u16()),
            started.elapsed(),
        );
        let now = self.clock.now();
        if let Some(pause) =
            self.gate
                .observe(status.as_u16(), headers, now, DEFAULT_THROTTLE_PAUSE)
        {
            self.log_pause(pause);
        }
    }
}

/// The start of a response body for an error message: whitespace collapsed, at most `max`
/// characters, every given secret replaced by `[redacted]`.
pub fn excerpt(body: &[u8], secrets: &[&str], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let mut text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        text = text.replace(secret, "[redacted]");
    }
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None if text.is_empty() => "(empty body)".to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::Router;
    use axum::http::StatusCode as AxumStatus;
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};

    async fn throttling_server(hits: Arc<AtomicUsize>) -> String {
        let router = Router::new().route(
            "/",
            get(move || {
                let hits = hits.clone();
                async move {
                    if hits.fetch_add(1, Ordering::SeqCst) == 0 {
                        (
                            AxumStatus::TOO_MANY_REQUESTS,
                            [("retry-after", "2")],
                            "slow down",
                        )
                    } else {
                        (AxumStatus::OK, [("x-ok", "1")], "ok")
                    }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        format!("http://{address}/")
    }

    #[tokio::test]
    async fn a_429_pauses_every_request_for_the_time_asked() {
        let hits = Arc::new(AtomicUsize::new(0));
        let url = throttling_server(hits.clone()).await;
        let metrics = Arc::new(Metrics::new());
        let transport = CrmTransport::new(reqwest::Client::new(), "rest", 0, metrics.clone());
        let first = transport
            .send("create", transport.http().get(&url))
            .await
            .unwrap();
        assert_eq!(first.status, StatusCode::TOO_MANY_REQUESTS);
        let remaining = transport.remaining_pause();
        assert!(remaining > Duration::from_millis(1500), "{remaining:?}");

        let started = std::time::Instant::now();
        let second = transport
            .send("update", transport.http().get(&url))
            .await
            .unwrap();
        assert_eq!(second.status, StatusCode::OK);
        assert!(started.elapsed() >= Duration::from_millis(1500));
        assert_eq!(hits.load(Ordering::SeqCst), 2);
        let text = metrics.render();
        assert!(text.contains(
            r#"calsync_crm_requests_total{kind="rest",operation="create",status="429"} 1"#
        ));
        assert!(
            text.contains(r#"calsync_target_paused{target="crm:rest"} 0"#),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_pause_fails_fast_instead_of_waiting() {
        let transport =
            CrmTransport::new(reqwest::Client::new(), "rest", 0, Arc::new(Metrics::new()));
        transport.pause_for(Duration::from_secs(3600));
        let request = transport.http().get("http://127.0.0.1:9/");
        match transport.send("create", request).await {
            Err(CrmError::HeldBack { wait, .. }) => {
                assert!(wait > Duration::from_secs(3500));
            }
            other => panic!("expected HeldBack, got {other:?}"),
        }
        // A shorter pause never shortens a longer one.
        transport.pause_for(Duration::from_secs(5));
        assert!(transport.remaining_pause() > Duration::from_secs(3500));
    }

    #[test]
    fn excerpts_are_short_and_scrubbed() {
        let body = format!("error: key sk_live_123 rejected {}", "x".repeat(500));
        let text = excerpt(body.as_bytes(), &["sk_live_123"], 40);
        assert!(text.starts_with("error: key [redacted] rejected"));
        assert!(text.chars().count() <= 41);
        assert_eq!(excerpt(b"", &[], 10), "(empty body)");
    }
}
