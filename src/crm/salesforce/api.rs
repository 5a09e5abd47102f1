//! The session's access [`Token`], and what Salesforce plugs into the shared client ([`crate::crm::vendor`]): its throttle signals
//! (`Sforce-Limit-Info`, 403 `REQUEST_LIMIT_EXCEEDED`), its error array and classification, and
//! the secrets to scrub (the client secret and the access token held by the session).
//!
//! The access token is not added here but by [`super::session::Session::send`], with the token
//! the request's URL was built from, so the two always match.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};

use super::errors::{self, LimitBackoff};
use crate::crm::transport::{Answer, CrmTransport};
use crate::crm::vendor::Vendor;
use crate::retry::Retry;

/// An access token and where to use it.
pub struct Token {
    pub(super) access: SecretString,
    /// `{instance_url}`, without a trailing slash.
    pub instance: String,
    /// `{instance_url}/services/data/{api_version}`.
    pub api_base: String,
}

/// The `kind` label of the quota gauges.
const KIND: &str = "salesforce";

/// Salesforce's part of the client, and the session's token cache.
pub struct SalesforceApi {
    client_secret: SecretString,
    /// The access token in use (shared by every worker).
    current: RwLock<Option<Arc<Token>>>,
    limit: LimitBackoff,
}

impl SalesforceApi {
    /// No token yet; the client secret is scrubbed from every message.
    pub fn new(client_secret: SecretString) -> Self {
        SalesforceApi {
            client_secret,
            current: RwLock::new(None),
            limit: LimitBackoff::default(),
        }
    }

    /// The client secret (for the token request).
    pub fn client_secret(&self) -> &SecretString {
        &self.client_secret
    }

    /// The cached token, if any.
    pub fn cached(&self) -> Option<Arc<Token>> {
        // A poisoned lock only means a panic elsewhere; the cached value is still whole.
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Replaces the cached token.
    pub fn store(&self, token: Arc<Token>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(token);
    }
}

impl Vendor for SalesforceApi {
    const MESSAGE_CHARS: usize = 300;

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        request
    }

    fn secrets(&self) -> Vec<&str> {
        // The token is read under the lock and cannot be borrowed out: scrub through `describe`.
        vec![self.client_secret.expose_secret()]
    }

    /// Exports `Sforce-Limit-Info`; a 403 `REQUEST_LIMIT_EXCEEDED` pauses the target
    /// ([`LimitBackoff`]); any other success ends a streak of refusals.
    fn signals(
        &self,
        answer: &Answer,
        _now: Timestamp,
        transport: &CrmTransport,
    ) -> Option<Duration> {
        if let Some((used, limit)) = errors::api_usage(&answer.headers) {
            let metrics = transport.metrics();
            metrics.set_crm_quota(KIND, "daily_used", used);
            metrics.set_crm_quota(KIND, "daily_limit", limit);
        }
        if answer.status == StatusCode::FORBIDDEN
            && errors::has_code(
                &errors::parse_errors(&answer.body),
                "REQUEST_LIMIT_EXCEEDED",
            )
        {
            // Requests already in flight when the pause began are refused too: they keep the
            // current pause instead of doubling it.
            return Some(match transport.remaining_pause().is_zero() {
                true => self.limit.refused(),
                false => self.limit.current(),
            });
        }
        if answer.status.is_success() {
            self.limit.accepted();
        }
        None
    }

    /// `ERROR_CODE: message (fields: …)` per error, or the body; scrubbed of the access token
    /// here (the client secret is scrubbed by the shared client).
    fn describe(&self, answer: &Answer) -> String {
        let token = self.cached();
        let secrets = [
            self.client_secret.expose_secret(),
            token
                .as_ref()
                .map_or("", |token| token.access.expose_secret()),
        ];
        let errors = errors::parse_errors(&answer.body);
        errors::describe(&errors, &answer.body, &secrets)
    }

    /// A limit refusal waits for the pause of the current streak of refusals.
    fn classify(&self, answer: &Answer, _pause: Option<Duration>, now: Timestamp) -> Retry {
        let errors = errors::parse_errors(&answer.body);
        errors::classify(
            answer.status.as_u16(),
            &errors,
            &answer.headers,
            self.limit.current(),
            now,
        )
    }
}
