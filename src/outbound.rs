//! Outbound HTTP: the one client every call to Nylas and the CRM shares, and how their answers
//! are read.
//!
//! Invariants (issue 14, "outbound HTTP is strict"):
//! - **No redirect is followed.** The client is built with [`reqwest::redirect::Policy::none`]:
//!   a 3xx that asks to go elsewhere ([`redirect`]) is returned to the caller, which turns it into
//!   an error naming the `Location`. Following one silently turns a `POST` into a `GET` whose
//!   200 looks like a created record, or re-sends a meeting (attendees, notes) to another host.
//!   A redirected write is [`Retry::Permanent`] (sending it again cannot succeed until an
//!   operator fixes the configured URL); a redirected read is retried like any unexpected answer.
//! - **Bodies are read with a cap, by streaming.** [`read_body`] reads chunk by chunk and stops
//!   as soon as the cap is passed, so an over-size answer is never buffered whole: a success body
//!   over [`MAX_BODY_BYTES`] is an [`Oversize`] error (retryable, naming the size); of an error
//!   answer only the first [`MAX_ERROR_BODY_BYTES`] are kept (enough for the vendors' error JSON
//!   and the excerpt quoted in messages) and the rest is never read.

use std::fmt;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, LOCATION};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::retry::Retry;
use crate::store::redact_url;

/// The largest success body calsync reads (Nylas events and pages, CRM answers): 8 MiB.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// How much of an error answer's body calsync keeps: 8 KiB.
pub const MAX_ERROR_BODY_BYTES: usize = 8 * 1024;

/// The longest `Location` quoted in an error.
const MAX_LOCATION_CHARS: usize = 300;

/// The HTTP client every outbound call shares: one connection pool, calsync's user agent, no
/// redirects followed.
pub fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .user_agent(concat!("calsync/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A 3xx answer asking the client to go elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    /// 301, 302, 303, 307 or 308.
    pub status: u16,
    /// Where it pointed, resolved against the request URL, userinfo password redacted and cut to
    /// a few hundred characters; `None` when the answer had no (readable) `Location`.
    pub location: Option<String>,
}

impl fmt::Display for Redirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(location) => write!(
                f,
                "answered HTTP {} redirecting to {location}; calsync follows no redirects, so point the configured URL at the final address",
                self.status
            ),
            None => write!(
                f,
                "answered HTTP {} (a redirect without a Location); calsync follows no redirects",
                self.status
            ),
        }
    }
}

/// The redirect an answer asks for, if it is one (the statuses a browser would follow; 300
/// "multiple choices" and 304 "not modified" are ordinary answers).
pub fn redirect(request_url: &Url, status: StatusCode, headers: &HeaderMap) -> Option<Redirect> {
    if !matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) {
        return None;
    }
    let location = headers
        .get(LOCATION)
        .and_then(|value| value.to_str().ok())
        .map(|value| match request_url.join(value.trim()) {
            Ok(resolved) => redact_url(resolved.as_str()),
            Err(_) => redact_url(value),
        })
        .map(
            |location| match location.char_indices().nth(MAX_LOCATION_CHARS) {
                Some((cut, _)) => format!("{}…", &location[..cut]),
                None => location,
            },
        );
    Some(Redirect {
        status: status.as_u16(),
        location,
    })
}

/// How a redirected request is retried: never for a write (it was not performed, and will not be
/// until the configured URL changes), like any unexpected answer for a read.
pub fn redirect_retry(method: &Method) -> Retry {
    if method.is_safe() {
        Retry::After(None)
    } else {
        Retry::Permanent
    }
}

/// A success body larger than [`MAX_BODY_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oversize {
    /// The cap that was passed.
    pub limit: usize,
    /// The size the answer announced (`Content-Length`), when it did.
    pub announced: Option<u64>,
}

impl fmt::Display for Oversize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let limit = self.limit;
        match self.announced {
            Some(length) => write!(
                f,
                "a body of {length} bytes, over calsync's limit of {limit} bytes"
            ),
            None => write!(f, "a body over calsync's limit of {limit} bytes"),
        }
    }
}

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// A success body over the cap (nothing more was read).
    Oversize(Oversize),
    /// The connection failed or timed out while reading.
    Read(reqwest::Error),
}

/// Reads the body of `response`: up to [`MAX_BODY_BYTES`] of a success (more is an error), up to
/// [`MAX_ERROR_BODY_BYTES`] of anything else (the rest is left unread).
pub async fn read_body(response: Response) -> Result<Bytes, BodyError> {
    if response.status().is_success() {
        read_capped(response, MAX_BODY_BYTES).await
    } else {
        read_prefix(response, MAX_ERROR_BODY_BYTES).await
    }
}

/// The whole body, or [`BodyError::Oversize`] as soon as it passes `limit`.
async fn read_capped(mut response: Response, limit: usize) -> Result<Bytes, BodyError> {
    let announced = response.content_length();
    if announced.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::Oversize(Oversize { limit, announced }));
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::Oversize(Oversize { limit, announced }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// At most the first `limit` bytes of the body.
async fn read_prefix(mut response: Response, limit: usize) -> Result<Bytes, BodyError> {
    let mut body = BytesMut::new();
    while body.len() < limit {
        let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? else {
            break;
        };
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
    Ok(body.freeze())
}

#[cfg(test)]
mod tests;
