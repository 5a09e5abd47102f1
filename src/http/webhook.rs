//! The webhook handlers: the challenge echo and the notification POST.
//!
//! Answers follow the contract table of `architecture.md`: 401 for any signature problem
//! (nothing stored), 413 for oversized bodies, 400 for signed bodies that are not usable
//! notifications, 200 for ignored triggers, 503 when the store cannot commit, the process is
//! draining, or no secret is configured — never 500, which Nylas would not retry. Every POST
//! logs one line naming the notification and what happened to it; bodies and secrets are never
//! logged.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::EdgeState;
use super::verify::{self, VerifyError};
use crate::nylas::notification::{self, Interpretation};
use crate::store::IngestOutcome;

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
    if state.draining.is_cancelled() {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    }
    let body = match body {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            tracing::warn!(
                limit = state.max_body_bytes,
                "Rejected a notification: the body exceeds server.max_body_bytes."
            );
            return plain(StatusCode::PAYLOAD_TOO_LARGE, "body too large");
        }
        Err(rejection) => {
            tracing::warn!(error = %rejection, "Rejected a notification: the body could not be read.");
            return plain(StatusCode::BAD_REQUEST, "unreadable body");
        }
    };
    let verified = match verify::verify(&headers, &body, &state.secrets, state.max_body_bytes) {
        Ok(verified) => verified,
        Err(error) => return verify_failure(&error),
    };
    let envelope = match verify::parse_envelope(&verified) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(error = %error, "Rejected a signed notification: not a notification envelope.");
            return plain(StatusCode::BAD_REQUEST, "not a notification envelope");
        }
    };
    let received_at = state.clock.now();
    let envelope = envelope.get();
    let interpretation = match notification::interpret(envelope, verified.into_inner(), received_at)
    {
        Ok(interpretation) => interpretation,
        Err(error) => {
            tracing::warn!(
                notification.id = %envelope.id,
                notification.r#type = %envelope.trigger,
                error = %error,
                "Rejected a signed notification that cannot be processed."
            );
            return plain(StatusCode::BAD_REQUEST, &error.to_string());
        }
    };
    let incoming = match interpretation {
        Interpretation::Store(incoming) => *incoming,
        Interpretation::Ignored => {
            tracing::info!(
                notification.id = %envelope.id,
                notification.r#type = %envelope.trigger,
                "Ignored a notification of a trigger calsync does not handle."
            );
            return plain(StatusCode::OK, "ignored");
        }
    };
    let (id, trigger) = (incoming.id.clone(), incoming.trigger.clone());
    let (grant_id, event_id) = (incoming.grant_id.clone(), incoming.event_id.clone());
    match state.ingest.submit(incoming).await {
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
            plain(StatusCode::OK, result)
        }
        Err(error) => {
            tracing::error!(
                notification.id = %id,
                notification.r#type = %trigger,
                error = %error,
                "Could not store a notification; answering 503 so Nylas retries."
            );
            plain(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// The answer and log line for a request that failed verification.
fn verify_failure(error: &VerifyError) -> Response {
    let status = match error {
        VerifyError::NoSecretConfigured => StatusCode::SERVICE_UNAVAILABLE,
        VerifyError::MissingSignature
        | VerifyError::MalformedSignature
        | VerifyError::BadSignature => StatusCode::UNAUTHORIZED,
        VerifyError::UnsupportedEncoding(_) | VerifyError::Decompress(_) => StatusCode::BAD_REQUEST,
        VerifyError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        tracing::error!(
            "Rejected a notification: no webhook secret is configured (set nylas.webhook_secrets or NYLAS_WEBHOOK_SECRET)."
        );
    } else {
        tracing::warn!(error = %error, "Rejected a notification.");
    }
    plain(status, &error.to_string())
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
