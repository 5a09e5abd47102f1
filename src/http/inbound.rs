//! The notification endpoint (`inbound`): the challenge echo and the notification POST that Nylas
//! sends to `server.webhook_path`.
//!
//! Replies follow the contract table of `architecture.md`: 401 for any signature problem
//! (nothing stored), 413 for oversized bodies, 408 for a body not received within
//! `server.request_timeout`, 400 for signed bodies that are not usable notifications (ids over
//! [`limits::MAX_ID_BYTES`] included), 200 for ignored triggers, 503 when the store cannot
//! commit, the process is draining, or no secret is configured — never 500, which Nylas would
//! not retry. Every POST logs one line naming the notification and what happened to it, except
//! that rejections of unauthenticated requests (401, 413, 408, unreadable bodies) are logged at
//! most a few times per second, each line counting the ones suppressed before it; bodies and
//! secrets are never logged.
//!
//! Store trouble: a commit that fails, or does not finish within [`INGEST_DEADLINE`] (well
//! inside Nylas's 10 s), is replied 503 and reported to the readiness tracker. A notification
//! whose commit outlived the deadline may still land; Nylas redelivers it and the copy is a
//! duplicate (deduplicated by notification id), so nothing acknowledged is lost and nothing is
//! stored twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::extract::{Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::body::{self, BodyError};
use super::verify::{self, VerifyError};
use super::{EdgeState, limits, trace};
use crate::ids::{EventId, GrantId};
use crate::intake::{self, Interpretation};
use crate::store::ingest::IngestError;
use crate::store::{IncomingNotification, IngestOutcome};

/// The longest a POST waits for its notification's commit before replying 503.
pub const INGEST_DEADLINE: Duration = Duration::from_secs(8);

/// `GET {webhook_path}?challenge=X`: echo `X` as plain text (no signature: Nylas sends this
/// before any secret exists).
pub async fn challenge(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("challenge") {
        Some(value) => {
            tracing::info!("Answered the Nylas webhook challenge.");
            let mut response = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                value.clone(),
            )
                .into_response();
            response.extensions_mut().insert(trace::Logged);
            response
        }
        None => plain(StatusCode::BAD_REQUEST, "missing challenge parameter"),
    }
}

/// `POST {webhook_path}`: read (bounded), verify, parse, interpret, store durably, then reply.
/// The reply is logged here (one line per POST, rejections of unauthenticated requests
/// throttled), so the request span does not log it again.
pub async fn receive(State(state): State<EdgeState>, request: Request) -> Response {
    let started = Instant::now();
    let reply = match accept(&state, request).await {
        Ok(reply) | Err(reply) => reply,
    };
    state.metrics.notification(&reply.trigger, reply.result);
    if reply.status == StatusCode::OK && reply.result != "ignored" {
        state.metrics.observe_ingest(started.elapsed());
    }
    let mut response = plain(reply.status, &reply.message);
    if reply.status == StatusCode::REQUEST_TIMEOUT {
        // The rest of the body may still come: the connection cannot carry another request.
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response.extensions_mut().insert(trace::Logged);
    response
}

/// What the endpoint replies to Nylas, and how to count it ("reply" is what calsync sends back;
/// "answer" is what an upstream sends calsync).
struct Reply {
    status: StatusCode,
    /// The metric's `result` label.
    result: &'static str,
    /// The notification type, when it is known.
    trigger: String,
    message: String,
}

impl Reply {
    fn new(status: StatusCode, result: &'static str, trigger: &str, message: &str) -> Self {
        Reply {
            status,
            result,
            trigger: trigger.to_string(),
            message: message.to_string(),
        }
    }
}

/// The steps of a POST; `Err` carries an early reply.
async fn accept(state: &EdgeState, request: Request) -> Result<Reply, Reply> {
    if state.draining.is_cancelled() {
        return Err(Reply::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "",
            "shutting down",
        ));
    }
    let headers = request.headers().clone();
    let body = body::read(request, state.max_body_bytes, state.request_timeout)
        .await
        .map_err(|error| body_failure(state, &error))?;
    let verified = verify::verify(&headers, &body, &state.secrets, state.max_body_bytes)
        .map_err(|error| verify_failure(state, &error))?;
    let envelope = verify::parse_envelope(&verified)
        .map_err(|error| {
            tracing::warn!(error = %crate::cause::Chain(&error), "Rejected a signed notification: not a notification envelope.");
            Reply::new(StatusCode::BAD_REQUEST, "bad_request", "", "not a notification envelope")
        })?
        .into_inner();
    limits::check_ids(&envelope).map_err(|error| id_failure(&error))?;
    // Kept for the log lines below: interpreting consumes the envelope (no copy of the event).
    let (id, trigger) = (envelope.id.clone(), envelope.trigger.clone());
    let interpretation = intake::interpret(envelope, verified.into_inner(), state.clock.now())
        .map_err(|error| {
            tracing::warn!(
                notification.id = %id,
                notification.r#type = %trigger,
                error = %crate::cause::Chain(&error),
                "Rejected a signed notification that cannot be processed."
            );
            Reply::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                &trigger,
                &error.to_string(),
            )
        })?;
    let incoming = match interpretation {
        Interpretation::Store(incoming) => *incoming,
        Interpretation::Ignored => {
            tracing::info!(
                notification.id = %id,
                notification.r#type = %trigger,
                "Ignored a notification of a trigger calsync does not handle."
            );
            return Ok(Reply::new(StatusCode::OK, "ignored", &trigger, "ignored"));
        }
    };
    store(state, incoming).await
}

/// Hands a notification to the ingest writer and waits for the durable commit.
async fn store(state: &EdgeState, incoming: IncomingNotification) -> Result<Reply, Reply> {
    let (id, trigger) = (incoming.id.clone(), incoming.trigger.clone());
    let (grant_id, event_id) = (incoming.grant_id.clone(), incoming.event_id.clone());
    let submitted = tokio::time::timeout(INGEST_DEADLINE, state.ingest.submit(incoming)).await;
    match &submitted {
        Ok(Ok(_)) => state.commits.record(true),
        Ok(Err(IngestError::Unavailable(_))) | Err(_) => state.commits.record(false),
        Ok(Err(IngestError::Closed)) => {}
    }
    let stored = submitted.map_err(|_| {
        format!(
            "the store did not commit within {}s",
            INGEST_DEADLINE.as_secs()
        )
    });
    match stored.and_then(|result| result.map_err(|error| crate::cause::chain(&error))) {
        Ok(outcome) => {
            let result = match outcome {
                IngestOutcome::Accepted => "accepted",
                IngestOutcome::Duplicate => "duplicate",
            };
            tracing::info!(
                notification.id = %id,
                notification.r#type = %trigger,
                grant.id = grant_id.as_ref().map_or("", GrantId::as_str),
                event.id = event_id.as_ref().map_or("", EventId::as_str),
                result,
                "Received a notification."
            );
            Ok(Reply::new(StatusCode::OK, result, &trigger, result))
        }
        Err(error) => {
            tracing::error!(
                notification.id = %id,
                notification.r#type = %trigger,
                error = %error,
                "Could not store a notification; answering 503 so Nylas retries."
            );
            Err(Reply::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &trigger,
                "store unavailable",
            ))
        }
    }
}

/// The reply for a body that could not be read (in time, or within the size limit); logged
/// through the rejection throttle, since nothing about the request is authenticated yet.
fn body_failure(state: &EdgeState, error: &BodyError) -> Reply {
    let (status, result, message) = match error {
        BodyError::TooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, "too_large", "body too large")
        }
        BodyError::TimedOut(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "body not received in time",
        ),
        BodyError::Unreadable(_) => (StatusCode::BAD_REQUEST, "bad_request", "unreadable body"),
    };
    if let Some(suppressed) = state.rejections.admit(Instant::now()) {
        tracing::warn!(
            http.status = status.as_u16(),
            error = %error,
            suppressed,
            "Rejected a notification: its body could not be read."
        );
    }
    Reply::new(status, result, "", message)
}

/// The reply and log line for a signed notification with an id over the limit (the id itself
/// is not logged).
fn id_failure(error: &limits::TooLong) -> Reply {
    tracing::warn!(
        field = error.field,
        length = error.length,
        "Rejected a signed notification: an id is too long."
    );
    Reply::new(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "",
        &error.to_string(),
    )
}

/// The reply and log line for a request that failed verification (throttled: anyone can send
/// these).
fn verify_failure(state: &EdgeState, error: &VerifyError) -> Reply {
    let (status, result) = match error {
        VerifyError::NoSecretConfigured => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        VerifyError::MissingSignature
        | VerifyError::MalformedSignature
        | VerifyError::BadSignature => (StatusCode::UNAUTHORIZED, "bad_signature"),
        VerifyError::UnsupportedEncoding(_) | VerifyError::Decompress(_) => {
            (StatusCode::BAD_REQUEST, "bad_request")
        }
        VerifyError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
    };
    if let Some(suppressed) = state.rejections.admit(Instant::now()) {
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::error!(
                suppressed,
                "Rejected a notification: no webhook secret is configured (set nylas.webhook_secrets or NYLAS_WEBHOOK_SECRET)."
            );
        } else {
            tracing::warn!(
                http.status = status.as_u16(),
                error = %crate::cause::Chain(error),
                suppressed,
                "Rejected a notification."
            );
        }
    }
    Reply::new(status, result, "", &error.to_string())
}

/// A short plain-text reply.
fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}
