//! The authenticated session: the OAuth 2.0 client-credentials token, and the one path every
//! Salesforce request takes ([`Session::send`]).
//!
//! Invariants:
//! - Every request, the token request included, goes through the shared [`CrmTransport`] (rate
//!   cap, target pause, metrics).
//! - One token is cached for all workers. At most one token request is in flight: callers that
//!   find the token stale wait for the refresh already running and use its result, so a burst
//!   of 401s costs one token request.
//! - A 401 (`INVALID_SESSION_ID`: the session expired or was revoked; client-credentials tokens
//!   have no refresh token) gets a new token and the request is sent once more; a second 401 is
//!   returned to the caller (classified Auth).
//! - API calls go to the `instance_url` the token answer names (the org's canonical host),
//!   else to the configured `crm.instance_url`, under `/services/data/{api_version}`.
//! - Every answer's `Sforce-Limit-Info` updates the quota gauges; a 403
//!   `REQUEST_LIMIT_EXCEEDED` pauses the whole target ([`LimitBackoff`]).
//! - The client secret and the access token never appear in logs, errors or `Debug` output.

use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::errors::{self, LimitBackoff};
use crate::config::SalesforceCrmSettings;
use crate::crm::CrmError;
use crate::crm::transport::{Answer, CrmTransport, excerpt};
use crate::retry::{Retry, retry_after};

/// The `kind` label of the quota gauges.
const KIND: &str = "salesforce";

/// An access token and where to use it.
pub struct Token {
    access: SecretString,
    /// `{instance_url}`, without a trailing slash.
    pub instance: String,
    /// `{instance_url}/services/data/{api_version}`.
    pub api_base: String,
}

/// The token endpoint's success answer (only what calsync uses).
#[derive(Deserialize)]
struct TokenAnswer {
    access_token: SecretString,
    #[serde(default)]
    instance_url: Option<String>,
}

/// The token endpoint's error answer (RFC 6749 §5.2).
#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The session shared by every request of the adapter.
pub struct Session {
    transport: CrmTransport,
    token_url: Url,
    client_id: String,
    client_secret: SecretString,
    instance_url: Url,
    api_version: String,
    timeout: Duration,
    current: RwLock<Option<Arc<Token>>>,
    refreshing: tokio::sync::Mutex<()>,
    limit: LimitBackoff,
}

impl Session {
    /// A session for the configured org; no request is sent until the first call.
    pub fn new(settings: &SalesforceCrmSettings, transport: CrmTransport) -> Self {
        Session {
            transport,
            token_url: settings.token_url.clone(),
            client_id: settings.client_id.clone(),
            client_secret: settings.client_secret.clone(),
            instance_url: settings.instance_url.clone(),
            api_version: settings.api_version.clone(),
            timeout: settings.timeout,
            current: RwLock::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            limit: LimitBackoff::default(),
        }
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The HTTP client to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        self.transport.http()
    }

    /// Sends the request `build` makes for a token (called again after a refresh), with the
    /// bearer token, `Accept: application/json` and the timeout. Returns the answer whatever
    /// its status, except that a failed token request is an error.
    pub async fn send<F>(&self, operation: &'static str, build: F) -> Result<Answer, CrmError>
    where
        F: Fn(&Token) -> RequestBuilder,
    {
        let token = self.token().await?;
        let answer = self.send_with(operation, &build, &token).await?;
        if answer.status != StatusCode::UNAUTHORIZED {
            return Ok(answer);
        }
        tracing::info!(
            crm.kind = KIND,
            "The Salesforce session expired or was revoked; requesting a new access token."
        );
        let token = self.refresh(Some(&token)).await?;
        self.send_with(operation, &build, &token).await
    }

    /// The classified error for a non-success answer, scrubbed of the secret and the token.
    pub fn error(&self, operation: &'static str, answer: &Answer) -> CrmError {
        let token = self.cached();
        let secrets = [
            self.client_secret.expose_secret(),
            token
                .as_ref()
                .map_or("", |token| token.access.expose_secret()),
        ];
        errors::status_error(operation, answer, &secrets, self.limit.current())
    }

    async fn send_with<F>(
        &self,
        operation: &'static str,
        build: &F,
        token: &Token,
    ) -> Result<Answer, CrmError>
    where
        F: Fn(&Token) -> RequestBuilder,
    {
        let request = build(token)
            .bearer_auth(token.access.expose_secret())
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        let answer = self.transport.send(operation, request).await?;
        self.observe(&answer);
        Ok(answer)
    }

    /// Exports `Sforce-Limit-Info`; pauses the target on `REQUEST_LIMIT_EXCEEDED`.
    fn observe(&self, answer: &Answer) {
        if let Some((used, limit)) = errors::api_usage(&answer.headers) {
            let metrics = self.transport.metrics();
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
            let pause = match self.transport.remaining_pause().is_zero() {
                true => self.limit.refused(),
                false => self.limit.current(),
            };
            self.transport.pause_for(pause);
        } else if answer.status.is_success() {
            self.limit.accepted();
        }
    }

    fn cached(&self) -> Option<Arc<Token>> {
        // A poisoned lock only means a panic elsewhere; the cached value is still whole.
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The cached token, or a new one.
    async fn token(&self) -> Result<Arc<Token>, CrmError> {
        match self.cached() {
            Some(token) => Ok(token),
            None => self.refresh(None).await,
        }
    }

    /// A token other than `stale`: the one another caller just fetched, or a new one.
    async fn refresh(&self, stale: Option<&Arc<Token>>) -> Result<Arc<Token>, CrmError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(current) = self.cached()
            && stale.is_none_or(|stale| !Arc::ptr_eq(stale, &current))
        {
            return Ok(current);
        }
        let fresh = Arc::new(self.request_token().await?);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    /// `POST token_url` with `grant_type=client_credentials`.
    async fn request_token(&self) -> Result<Token, CrmError> {
        const OPERATION: &str = "salesforce token";
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair("client_secret", self.client_secret.expose_secret())
            .finish();
        let request = self
            .transport
            .http()
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .timeout(self.timeout)
            .body(form);
        let answer = self.transport.send(OPERATION, request).await?;
        if !answer.status.is_success() {
            return Err(self.token_error(OPERATION, &answer));
        }
        let parsed: TokenAnswer =
            serde_json::from_slice(&answer.body).map_err(|_| CrmError::Protocol {
                operation: OPERATION,
                message: "the answer has no access_token".to_owned(),
            })?;
        let instance = parsed
            .instance_url
            .as_deref()
            .and_then(|url| Url::parse(url).ok())
            .filter(|url| matches!(url.scheme(), "https" | "http"))
            .unwrap_or_else(|| self.instance_url.clone());
        let instance = instance.as_str().trim_end_matches('/').to_owned();
        tracing::debug!(crm.kind = KIND, "Obtained a Salesforce access token.");
        Ok(Token {
            access: parsed.access_token,
            api_base: format!("{instance}/services/data/{}", self.api_version),
            instance,
        })
    }

    /// A failed token request: 408, 429 and 5xx are retryable; any other answer means the
    /// credentials or the endpoint are wrong (`invalid_client`, `invalid_grant`, the flow not
    /// enabled for the app), which only an operator can fix: Auth.
    fn token_error(&self, operation: &'static str, answer: &Answer) -> CrmError {
        let status = answer.status.as_u16();
        let secrets = [self.client_secret.expose_secret()];
        let message = match serde_json::from_slice::<TokenError>(&answer.body) {
            Ok(error) if !error.error.is_empty() => {
                let text = format!("{}: {}", error.error, error.error_description);
                excerpt(text.trim_end_matches(": ").as_bytes(), &secrets, 300)
            }
            _ => excerpt(&answer.body, &secrets, 300),
        };
        let retry = match status {
            408 | 425 | 429 | 500..=599 => {
                Retry::After(retry_after(&answer.headers, SystemTime::now()))
            }
            _ => Retry::Auth,
        };
        CrmError::Status {
            operation,
            status,
            message,
            retry,
        }
    }
}
