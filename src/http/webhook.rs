//! The webhook handlers: the challenge echo and the notification POST.
//!
//! Answers follow the contract table of `architecture.md`: 401 for any signature problem
//! (nothing stored), 413 for oversized bodies, 400 for signed bodies that are not usable
//! notifications, 200 for ignored triggers, 503 when the store cannot commit, the process is
//! draining, or no secret is configured — never 500, which Nylas would not retry. Every POST
//! logs one line naming the notification and what happened to it; bodies and secrets are never
//! logged.
//!
//! Store trouble: a commit that fails, or does not finish within [`INGEST_DEADLINE`] (well
//! inside Nylas's 10 s), is answered 503 and reported to the readiness tracker. A notification
//! whose commit outlived the deadline may still land; Nylas redelivers it and the copy is a
//! duplicate (deduplicated by notification id), so nothing acknowledged is lost and nothing is
//! stored twice.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::EdgeState;
use super::verify::{self, VerifyError};
use crate::nylas::notification::{self, Interpretation};
use crate::store::ingest::IngestError;
use crate::store::{IncomingNotification, IngestOutcome};

/// The longest a POST waits for its notification's commit before answering 503.
pub const INGEST_DEADLINE: Duration = Duration::from_secs(8);

/// `GET {webhook_path}?challenge=X`: echo `X` as plain text (no signature: Nylas sends this
/// before any secret exists).
pub async fn challenge(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("challenge") {
        Some(value) => {
            tracing::info!("Answered the Nylas webhook challenge.");
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                value.clone(),
            )
                .into_response()
        }
        None => plain(StatusCode::BAD_REQUEST, "missing challenge parameter"),
    }
}

/// `POST {webhook_path}`: verify, parse, interpret, store durably, then answer.
pub async fn receive(
    State(state): State<EdgeState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let answer = match accept(&state, &headers, body).await {
        Ok(answer) | Err(answer) => answer,
    };
    state.metrics.notification(&answer.trigger, answer.result);
    if answer.status == StatusCode::OK && answer.result != "ignored" {
        state.metrics.observe_ingest(started.elapsed());
    }
    plain(answer.status, &answer.message)
}

/// What to answer, and how to count it.
struct Answer {
    status: StatusCode,
    /// The metric's `result` label.
    result: &'static str,
    /// The notification type, when it is known.
    trigger: String,
    message: String,
}

impl Answer {
    fn new(status: StatusCode, result: &'static str, trigger: &str, message: &str) -> Self {
        Answer {
            status,
            result,
            trigger: trigger.to_string(),
            message: message.to_string(),
        }
    }
}

/// The steps of a POST; `Err` carries an early answer.
async fn accept(
    state: &EdgeState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    if state.draining.is_cancelled() {
        return Err(Answer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "",
            "shutting down",
        ));
    }
    let body = body.map_err(|rejection| body_failure(&rejection, state.max_body_bytes))?;
    let verified = verify::verify(headers, &body, &state.secrets, state.max_body_bytes)
        .map_err(|error| verify_failure(&error))?;
    let envelope = verify::parse_envelope(&verified).map_err(|error| {
        tracing::warn!(error = %crate::cause::Chain(&error), "Rejected a signed notification: not a notification envelope.");
        Answer::new(StatusCode::BAD_REQUEST, "bad_request", "", "not a notification envelope")
    })?;
    let envelope = envelope.get();
    let interpretation =
        notification::interpret(envelope, verified.into_inner(), state.clock.now()).map_err(
            |error| {
                tracing::warn!(
                    notification.id = %envelope.id,
                    notification.r#type = %envelope.trigger,
                    error = %crate::cause::Chain(&error),
                    "Rejected a signed notification that cannot be processed."
                );
                Answer::new(
                    StatusCode::BAD_REQUEST,
                    "bad_request",
                    &envelope.trigger,
                    &error.to_string(),
                )
            },
        )?;
    let incoming = match interpretation {
        Interpretation::Store(incoming) => *incoming,
        Interpretation::Ignored => {
            tracing::info!(
                notification.id = %envelope.id,
                notification.r#type = %envelope.trigger,
                "Ignored a notification of a trigger calsync does not handle."
            );
            return Ok(Answer::new(
                StatusCode::OK,
                "ignored",
                &envelope.trigger,
                "ignored",
            ));
        }
    };
    store(state, incoming).await
}

/// Hands a notification to the ingest writer and waits for the durable commit.
async fn store(state: &EdgeState, incoming: IncomingNotification) -> Result<Answer, Answer> {
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
                grant.id = grant_id.as_deref().unwrap_or(""),
                event.id = event_id.as_deref().unwrap_or(""),
                result,
                "Received a notification."
            );
            Ok(Answer::new(StatusCode::OK, result, &trigger, result))
        }
        Err(error) => {
            tracing::error!(
                notification.id = %id,
                notification.r#type = %trigger,
                error = %error,
                "Could not store a notification; answering 503 so Nylas retries."
            );
            Err(Answer::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                &trigger,
                "store unavailable",
            ))
        }
    }
}

/// The answer for a body that could not be read.
fn body_failure(rejection: &BytesRejection, limit: usize) -> Answer {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        tracing::warn!(
            limit,
            "Rejected a notification: the body exceeds server.max_body_bytes."
        );
        Answer::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "",
            "body too large",
        )
    } else {
        tracing::warn!(error = %rejection, "Rejected a notification: the body could not be read.");
        Answer::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "",
            "unreadable body",
        )
    }
}

/// The answer and log line for a request that failed verification.
fn verify_failure(error: &VerifyError) -> Answer {
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
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(
            "Rejected a notification: no webhook secret is configured (set nylas.webhook_secrets or NYLAS_WEBHOOK_SECRET)."
        );
    } else {
        tracing::warn!(error = %crate::cause::Chain(error), "Rejected a notification.");
    }
    Answer::new(status, result, "", &error.to_string())
}

/// A short plain-text answer.
fn plain(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message.to_string(),
    )
        .into_response()
}
