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

use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use url::Url;

use super::api::{SalesforceApi, Token};
use crate::config::SalesforceCrmSettings;
use crate::crm::CrmError;
use crate::crm::transport::{Answer, CrmTransport, excerpt};
use crate::crm::vendor::{Sent, VendorClient};
use crate::retry::{Retry, retry_after};

/// The `kind` label of logs.
const KIND: &str = "salesforce";

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
    client: VendorClient<SalesforceApi>,
    token_url: Url,
    client_id: String,
    instance_url: Url,
    api_version: String,
    timeout: std::time::Duration,
    refreshing: tokio::sync::Mutex<()>,
}

impl Session {
    /// A session for the configured org; no request is sent until the first call.
    pub fn new(settings: &SalesforceCrmSettings, transport: CrmTransport) -> Self {
        let api = SalesforceApi::new(settings.client_secret.clone());
        Session {
            client: VendorClient::new(transport, api, settings.timeout),
            token_url: settings.token_url.clone(),
            client_id: settings.client_id.clone(),
            instance_url: settings.instance_url.clone(),
            api_version: settings.api_version.clone(),
            timeout: settings.timeout,
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// The OAuth token endpoint.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// The HTTP client to build requests with.
    pub fn http(&self) -> &reqwest::Client {
        self.client.http()
    }

    /// Sends the request `build` makes for a token (called again after a refresh), with that
    /// token as bearer (the shared client adds `Accept` and the timeout). Returns the answer
    /// whatever its status, except that a failed token request is an error.
    pub async fn send<F>(&self, operation: &'static str, build: F) -> Result<Sent, CrmError>
    where
        F: Fn(&Token) -> RequestBuilder,
    {
        let token = self.token().await?;
        let sent = self.send_with(operation, &build, &token).await?;
        if sent.status != StatusCode::UNAUTHORIZED {
            return Ok(sent);
        }
        tracing::info!(
            crm.kind = KIND,
            "The Salesforce session expired or was revoked; requesting a new access token."
        );
        let token = self.refresh(Some(&token)).await?;
        self.send_with(operation, &build, &token).await
    }

    /// The classified error for a non-success answer, scrubbed of the secret and the token.
    pub fn error(&self, operation: &'static str, sent: &Sent) -> CrmError {
        self.client.status_error(operation, sent)
    }

    async fn send_with<F>(
        &self,
        operation: &'static str,
        build: &F,
        token: &Token,
    ) -> Result<Sent, CrmError>
    where
        F: Fn(&Token) -> RequestBuilder,
    {
        self.client
            .send(operation, || {
                build(token).bearer_auth(token.access.expose_secret())
            })
            .await
    }

    /// The cached token, or a new one.
    async fn token(&self) -> Result<Arc<Token>, CrmError> {
        match self.client.vendor().cached() {
            Some(token) => Ok(token),
            None => self.refresh(None).await,
        }
    }

    /// A token other than `stale`: the one another caller just fetched, or a new one.
    async fn refresh(&self, stale: Option<&Arc<Token>>) -> Result<Arc<Token>, CrmError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(current) = self.client.vendor().cached()
            && stale.is_none_or(|stale| !Arc::ptr_eq(stale, &current))
        {
            return Ok(current);
        }
        let fresh = Arc::new(self.request_token().await?);
        self.client.vendor().store(fresh.clone());
        Ok(fresh)
    }

    /// `POST token_url` with `grant_type=client_credentials`.
    async fn request_token(&self) -> Result<Token, CrmError> {
        const OPERATION: &str = "salesforce token";
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.client_id)
            .append_pair(
                "client_secret",
                self.client.vendor().client_secret().expose_secret(),
            )
            .finish();
        // Sent by hand: the token request carries no bearer and is no API call (no limit
        // signals).
        let request = self
            .client
            .http()
            .post(self.token_url.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .timeout(self.timeout)
            .body(form);
        let answer = self.client.transport().send(OPERATION, request).await?;
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
        let secrets = [self.client.vendor().client_secret().expose_secret()];
        let message = match serde_json::from_slice::<TokenError>(&answer.body) {
            Ok(error) if !error.error.is_empty() => {
                let text = format!("{}: {}", error.error, error.error_description);
                excerpt(text.trim_end_matches(": ").as_bytes(), &secrets, 300)
            }
            _ => excerpt(&answer.body, &secrets, 300),
        };
        let retry = match status {
            408 | 425 | 429 | 500..=599 => {
                Retry::After(retry_after(&answer.headers, self.client.now()))
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
