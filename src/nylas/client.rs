//! Nylas API client (skeleton).

use crate::config::NylasSettings;
use crate::retry::Retry;

use super::models::Event;

/// A failed Nylas call.
#[derive(Debug, thiserror::Error)]
pub enum NylasError {
    #[error("Nylas answered HTTP {status}")]
    Status { status: u16, retry: Retry },
}

impl NylasError {
    /// What to do about it.
    pub fn retry(&self) -> Retry {
        match self {
            NylasError::Status { retry, .. } => *retry,
        }
    }
}

/// The Nylas API client.
#[derive(Debug, Clone)]
pub struct NylasClient;

impl NylasClient {
    /// A client for the configured API.
    pub fn new(_settings: &NylasSettings, _http: reqwest::Client) -> Self {
        NylasClient
    }

    /// One event; `None` when it no longer exists (404).
    pub async fn get_event(
        &self,
        _grant_id: &str,
        _event_id: &str,
        _calendar_id: &str,
    ) -> Result<Option<Event>, NylasError> {
        todo!("client")
    }
}
