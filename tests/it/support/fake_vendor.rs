//! What the spec-checked vendor fakes (HubSpot, Pipedrive) share: the [`Ledger`] of the requests
//! they received and the contract violations they found, the [`Incoming`] request their handlers
//! check and answer, and the [`Recorded`] view tests read it all through.

use std::collections::HashMap;

use axum::http::{HeaderMap, Method, Uri};
use bytes::Bytes;
use serde_json::Value;

use super::openapi::{Contract, Request};

/// A request as a vendor fake handles it (already recorded).
pub struct Incoming {
    pub method: Method,
    /// The raw (percent-encoded) path.
    pub path: String,
    pub query: Option<String>,
    /// The body as JSON (`null` when it is not).
    pub json: Value,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// The request as the contract checks it.
    pub fn request(&self) -> Request<'_> {
        Request {
            method: self.method.as_str(),
            path: &self.path,
            query: self.query.as_deref(),
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The query parameters, decoded.
    pub fn query_map(&self) -> HashMap<String, String> {
        let query = self.query.as_deref().unwrap_or("");
        url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect()
    }
}

/// Checks a request built by hand against `contract` (the validator's own tests).
pub fn check_request(
    contract: &Contract,
    (method, path, query): (&str, &str, Option<&str>),
    body: Option<Value>,
    headers: &HeaderMap,
) -> Vec<String> {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    contract.check(&Request {
        method,
        path,
        query,
        headers,
        body: body.as_bytes(),
    })
}

/// A request a vendor fake received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub body: Value,
    pub at: std::time::Instant,
}

/// The requests a fake received and the contract violations it found.
#[derive(Debug, Default)]
pub struct Ledger {
    pub requests: Vec<Seen>,
    pub violations: Vec<String>,
}

impl Ledger {
    /// Records a request.
    pub fn record(
        &mut self,
        method: Method,
        uri: &Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Incoming {
        let incoming = Incoming {
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            json: serde_json::from_slice(&body).unwrap_or(Value::Null),
            method,
            headers,
            body,
        };
        self.requests.push(Seen {
            method: incoming.method.to_string(),
            path: incoming.path.clone(),
            query: incoming.query.clone(),
            body: incoming.json.clone(),
            at: std::time::Instant::now(),
        });
        incoming
    }

    /// Checks the fake's own answer against the spec's response schema (nothing to check
    /// without the specs).
    pub fn check_answer(
        &mut self,
        contract: Option<&Contract>,
        incoming: &Incoming,
        status: u16,
        body: &str,
    ) {
        let Some(contract) = contract else {
            return;
        };
        let problems = contract.check_response(
            incoming.method.as_str(),
            &incoming.path,
            status,
            body.as_bytes(),
        );
        let problems = problems.into_iter().map(|p| format!("fake answer: {p}"));
        self.violations.extend(problems);
    }
}

/// The test's view of a fake's [`Ledger`].
pub trait Recorded {
    /// Runs `f` on the fake's ledger.
    fn with_ledger<T>(&self, f: impl FnOnce(&mut Ledger) -> T) -> T;

    /// Fails the test if any request broke the OpenAPI contract (or none arrived).
    fn assert_contract(&self) {
        let violations = self.violations();
        assert!(
            violations.is_empty(),
            "contract violations:\n{}",
            violations.join("\n")
        );
        assert!(!self.requests().is_empty(), "no request reached the fake");
    }

    /// The contract violations so far (for the negative tests).
    fn violations(&self) -> Vec<String> {
        self.with_ledger(|ledger| ledger.violations.clone())
    }

    /// Every request so far.
    fn requests(&self) -> Vec<Seen> {
        self.with_ledger(|ledger| ledger.requests.clone())
    }

    /// `METHOD path` of every request, in order.
    fn calls(&self) -> Vec<String> {
        let requests = self.requests();
        let calls = requests.iter();
        calls
            .map(|seen| format!("{} {}", seen.method, seen.path))
            .collect()
    }

    /// Forgets the request log.
    fn reset_requests(&self) {
        self.with_ledger(|ledger| ledger.requests.clear());
    }
}
