//! Reading a notification's body within bounds of size and time, before anything else looks
//! at it.
//!
//! - A `Content-Length` over `server.max_body_bytes` is refused at once (413), without waiting
//!   for bytes that would be refused anyway; a body without a length is cut at the limit (413).
//! - The whole body must arrive within `server.request_timeout` of the handler starting
//!   (408 otherwise, and the connection is closed): a client announcing a large body and
//!   sending nothing, or trickling it, holds no connection longer than that.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::header;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body (announced or received) exceeds the limit.
    #[error("the body exceeds {limit} bytes")]
    TooLarge {
        /// `server.max_body_bytes`.
        limit: usize,
    },
    /// The body did not arrive in time.
    #[error("the body did not arrive within {}s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// The body could not be read (the client went away, a malformed chunk).
    #[error("the body could not be read: {0}")]
    Unreadable(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Reads `request`'s body: at most `limit` bytes, within `timeout`.
pub async fn read(request: Request, limit: usize, timeout: Duration) -> Result<Bytes, BodyError> {
    if announced_length(&request).is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    let body = Limited::new(request.into_body(), limit);
    match tokio::time::timeout(timeout, body.collect()).await {
        Err(_) => Err(BodyError::TimedOut(timeout)),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Ok(Err(error)) => Err(BodyError::Unreadable(error)),
    }
}

/// The `Content-Length` the client announced, when it sent a valid one.
fn announced_length(request: &Request) -> Option<u64> {
    request
        .headers()
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn request(length: Option<&str>, body: Body) -> Request {
        let mut builder = Request::builder().method("POST").uri("/");
        if let Some(length) = length {
            builder = builder.header(header::CONTENT_LENGTH, length);
        }
        builder.body(body).unwrap()
    }

    #[tokio::test]
    async fn an_announced_oversize_body_is_refused_before_reading() {
        // The body would never end: only the header is looked at.
        let (_sender, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let stream = channel_body(body);
        let refused = read(
            request(Some("1073741824"), stream),
            1024,
            Duration::from_secs(3600),
        )
        .await;
        assert!(matches!(refused, Err(BodyError::TooLarge { limit: 1024 })));
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_does_not_arrive_times_out() {
        let (sender, body) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        sender
            .send(Ok(Bytes::from_static(b"{\"partial")))
            .await
            .unwrap();
        let stream = channel_body(body);
        let read = read(request(Some("100"), stream), 1024, Duration::from_secs(30)).await;
        assert!(matches!(read, Err(BodyError::TimedOut(_))), "{read:?}");
        drop(sender);
    }

    #[tokio::test]
    async fn a_body_within_bounds_is_read() {
        let body = read(
            request(Some("2"), Body::from("{}")),
            2,
            Duration::from_secs(1),
        )
        .await
        .unwrap();
        assert_eq!(&body[..], b"{}");
        let over = read(request(None, Body::from("{}")), 1, Duration::from_secs(1)).await;
        assert!(
            matches!(over, Err(BodyError::TooLarge { limit: 1 })),
            "{over:?}"
        );
    }

    /// A body fed by a channel (it ends when the sender is dropped).
    fn channel_body(
        mut receiver: tokio::sync::mpsc::Receiver<Result<Bytes, std::io::Error>>,
    ) -> Body {
        Body::from_stream(futures::stream::poll_fn(move |cx| receiver.poll_recv(cx)))
    }
}
