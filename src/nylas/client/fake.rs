//! A scripted fake Nylas for the client's tests: an axum server on `127.0.0.1:0` that records
//! every request (method, raw path, raw query, headers, body) and answers with the next canned
//! response, or 599 when none is left so an unexpected request fails the test.

use std::collections::VecDeque;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use flate2::Compression;
use flate2::write::GzEncoder;
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use super::NylasClient;
use crate::config::{FetchPolicy, NylasSettings};

/// The API key the test clients send.
pub const KEY: &str = "nyk_v0_test_key_do_not_leak";

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The query exactly as sent.
    pub raw_query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Recorded {
    /// The decoded query pairs, in order.
    pub fn query(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(self.raw_query.as_deref().unwrap_or("").as_bytes())
            .into_owned()
            .collect()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    hang: bool,
}

impl Canned {
    /// A JSON answer.
    pub fn json(status: u16, body: Value) -> Self {
        Canned {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
            hang: false,
        }
    }

    /// An answer that never comes.
    pub fn hang() -> Self {
        Canned {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
            hang: true,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }

    /// Compresses the body with gzip and says so.
    pub fn gzip(mut self) -> Self {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&self.body).unwrap();
        self.body = encoder.finish().unwrap();
        self.header("content-encoding", "gzip")
    }
}

#[derive(Default)]
struct Script {
    requests: Vec<Recorded>,
    answers: VecDeque<Canned>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeNylas {
    pub addr: SocketAddr,
    script: Arc<Mutex<Script>>,
}

impl FakeNylas {
    /// Starts a fake on an ephemeral port.
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeNylas { addr, script }
    }

    /// Queues the answer to the next request.
    pub fn then(&self, canned: Canned) -> &Self {
        self.script.lock().unwrap().answers.push_back(canned);
        self
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.script.lock().unwrap().requests.clone()
    }

    /// The only request received.
    pub fn single(&self) -> Recorded {
        let requests = self.requests();
        assert_eq!(requests.len(), 1, "{requests:#?}");
        requests.into_iter().next().unwrap()
    }

    /// Settings pointing at the fake, with the test key and no rate limit.
    pub fn settings(&self) -> NylasSettings {
        settings(Url::parse(&format!("http://{}", self.addr)).unwrap())
    }

    /// A client for the fake.
    pub fn client(&self) -> NylasClient {
        NylasClient::new(&self.settings(), crate::outbound::client().unwrap())
    }
}

/// Settings for `api_uri`, with the test key, a 5 s timeout and no rate limit.
pub fn settings(api_uri: Url) -> NylasSettings {
    NylasSettings {
        api_uri,
        api_key: Some(SecretString::from(KEY)),
        webhook_secrets: Vec::new(),
        fetch: FetchPolicy::Always,
        timeout: Duration::from_secs(5),
        requests_per_second: 0,
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let canned = {
        let mut script = script.lock().unwrap();
        script.requests.push(Recorded {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            raw_query: parts.uri.query().map(str::to_owned),
            headers: parts.headers,
            body,
        });
        script.answers.pop_front()
    };
    let Some(canned) = canned else {
        return Response::builder()
            .status(599)
            .body(Body::from("no canned answer"))
            .unwrap();
    };
    if canned.hang {
        std::future::pending::<()>().await;
    }
    let mut response = Response::builder().status(StatusCode::from_u16(canned.status).unwrap());
    for (name, value) in canned.headers {
        response = response.header(name, value);
    }
    response.body(Body::from(canned.body)).unwrap()
}
