//! [`Hostile`]: an upstream (CRM or Nylas) on `127.0.0.1:0` that gives one hostile answer to every
//! request — a redirect, a huge body generated on the fly while it is read (never allocated), a
//! refusal with `Retry-After` — and records what it received. A Salesforce token request (`POST /services/oauth2/token`) is
//! answered properly, so the Salesforce adapter reaches its real requests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::server;

/// The size of each generated chunk.
const CHUNK: usize = 64 * 1024;

/// What every request (but a token request) is answered with.
#[derive(Debug, Clone)]
pub enum Hostility {
    /// `status` with `Location: location` (absolute, or relative to the request).
    Redirect { status: u16, location: String },
    /// `status` with a body of `bytes` bytes streamed in 64 KiB chunks, announced with
    /// `Content-Length` or not.
    Flood {
        status: u16,
        bytes: u64,
        announced: bool,
    },
    /// `status` with a small JSON body (the well-behaved answer of a redirect's target).
    Plain {
        status: u16,
        body: serde_json::Value,
    },
    /// `status` with `Retry-After: retry_after` (seconds or an HTTP date).
    Refuse { status: u16, retry_after: String },
}

/// A request the server received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub path: String,
}

struct State {
    hostility: Hostility,
    seen: Mutex<Vec<Seen>>,
    produced: AtomicU64,
    base: Mutex<String>,
}

/// A running hostile upstream. Cheap to clone.
#[derive(Clone)]
pub struct Hostile {
    state: Arc<State>,
    base: String,
}

impl Hostile {
    /// Starts a server answering every request with `hostility`.
    pub async fn start(hostility: Hostility) -> Hostile {
        let state = Arc::new(State {
            hostility,
            seen: Mutex::new(Vec::new()),
            produced: AtomicU64::new(0),
            base: Mutex::new(String::new()),
        });
        let shared = state.clone();
        let router = Router::new().fallback(move |request: Request| {
            let state = shared.clone();
            async move { answer(&state, request) }
        });
        let base = format!("http://{}", server::spawn(router).await);
        *state.base.lock().unwrap() = base.clone();
        Hostile { state, base }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.base.clone()
    }

    /// The requests received, token requests excluded.
    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    /// The body bytes generated so far (a reader that stops early makes this small).
    pub fn produced(&self) -> u64 {
        self.state.produced.load(Ordering::SeqCst)
    }
}

fn answer(state: &Arc<State>, request: Request) -> Response {
    let method = request.method().to_string();
    let path = request.uri().path().to_string();
    if method == "POST" && path == "/services/oauth2/token" {
        let base = state.base.lock().unwrap().clone();
        let token = json!({"access_token": "00Dhostile!token", "instance_url": base});
        return axum::Json(token).into_response();
    }
    state.seen.lock().unwrap().push(Seen { method, path });
    match &state.hostility {
        Hostility::Redirect { status, location } => (
            StatusCode::from_u16(*status).unwrap(),
            [("location", location.clone())],
        )
            .into_response(),
        Hostility::Refuse {
            status,
            retry_after,
        } => (
            StatusCode::from_u16(*status).unwrap(),
            [("retry-after", retry_after.clone())],
            axum::Json(json!({"error": "not now"})),
        )
            .into_response(),
        Hostility::Plain { status, body } => (
            StatusCode::from_u16(*status).unwrap(),
            axum::Json(body.clone()),
        )
            .into_response(),
        Hostility::Flood {
            status,
            bytes,
            announced,
        } => flood(state.clone(), *status, *bytes, *announced),
    }
}

/// `bytes` bytes of `x`, generated chunk by chunk as the client reads.
fn flood(state: Arc<State>, status: u16, bytes: u64, announced: bool) -> Response {
    let chunk = Bytes::from(vec![b'x'; CHUNK]);
    let stream = futures::stream::unfold(0u64, move |sent| {
        let state = state.clone();
        let chunk = chunk.clone();
        async move {
            if sent >= bytes {
                return None;
            }
            let size = (bytes - sent).min(CHUNK as u64);
            state.produced.fetch_add(size, Ordering::SeqCst);
            let piece = chunk.slice(..size as usize);
            Some((Ok::<_, std::io::Error>(piece), sent + size))
        }
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    let headers = response.headers_mut();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    if announced {
        headers.insert("content-length", HeaderValue::from(bytes));
    }
    response
}
