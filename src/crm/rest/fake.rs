//! A scripted fake CRM for the REST adapter's tests: an axum server on `127.0.0.1:0` that records
//! every request and answers from a queue (599 when the queue is empty, so an unexpected request
//! fails the test).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::response::Response;
use secrecy::SecretString;
use url::Url;

use super::RestAdapter;
use crate::config::RestCrmSettings;

/// The API key the test adapters send.
pub const KEY: &str = "crm_test_key_do_not_leak";

/// A request the fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A canned answer: status, headers, body.
type Canned = (u16, Vec<(&'static str, &'static str)>, String);

#[derive(Default)]
struct Script {
    seen: Vec<Seen>,
    answers: VecDeque<Canned>,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeCrm {
    base: Url,
    script: Arc<Mutex<Script>>,
}

impl FakeCrm {
    /// Starts a fake on an ephemeral port.
    pub async fn start() -> Self {
        let script = Arc::new(Mutex::new(Script::default()));
        let app = Router::new()
            .fallback(answer)
            .with_state(Arc::clone(&script));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FakeCrm { base, script }
    }

    /// Queues the answer to the next request.
    pub fn then(&self, status: u16, body: &str) -> &Self {
        self.then_with(status, Vec::new(), body)
    }

    /// Queues an answer with headers.
    pub fn then_with(
        &self,
        status: u16,
        headers: Vec<(&'static str, &'static str)>,
        body: &str,
    ) -> &Self {
        let answer = (status, headers, body.to_owned());
        self.script.lock().unwrap().answers.push_back(answer);
        self
    }

    /// The requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.script.lock().unwrap().seen.clone()
    }

    /// `(method, query)` of every request, in order.
    pub fn calls(&self) -> Vec<(String, Option<String>)> {
        self.seen()
            .into_iter()
            .map(|seen| (seen.method, seen.query))
            .collect()
    }

    /// Settings pointing at the fake, with the test key.
    pub fn settings(&self) -> RestCrmSettings {
        RestCrmSettings {
            base_url: self.base.clone(),
            api_key: Some(SecretString::from(KEY)),
            meetings_path: "/api/meetings".into(),
            timeout: Duration::from_secs(5),
            owner: Default::default(),
        }
    }

    /// An adapter for the fake.
    pub fn adapter(&self) -> RestAdapter {
        RestAdapter::new(
            &self.settings(),
            crate::crm::transport::CrmTransport::new(
                crate::outbound::client().unwrap(),
                "rest",
                0,
                Default::default(),
            ),
        )
    }
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let mut script = script.lock().unwrap();
    script.seen.push(Seen {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers,
        body,
    });
    let (status, headers, body) =
        script
            .answers
            .pop_front()
            .unwrap_or((599, Vec::new(), "no canned answer".into()));
    let mut response = Response::builder().status(status);
    for (name, value) in headers {
        response = response.header(name, value);
    }
    response.body(Body::from(body)).unwrap()
}
