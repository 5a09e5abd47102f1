//! The generic REST CRM adapter (`kind = "rest"`): a meetings resource keyed by our external id.
//!
//! The contract (`crms.md`, "Generic REST CRM"), with `{endpoint}` = `base_url` + `meetings_path`:
//! - create: `POST {endpoint}` with the [`MeetingRecord`] as JSON → 2xx; the CRM's id is the
//!   body's `id` (string or number) when present, else the external event id;
//! - look up: `GET {endpoint}?external_event_id=X` → 200 (exists) or 404 (none);
//! - update: `PUT {endpoint}?external_event_id=X` with the record → 2xx, or 404 when none;
//! - soft-delete: `DELETE {endpoint}?external_event_id=X` → 2xx, or 404 when already gone.
//!
//! Invariants: the CRM does not prevent duplicates, so a POST is sent only when the record is
//! known not to exist (never created, a PUT answered 404, or a GET answered 404 when a previous
//! create's outcome is uncertain). Failures are classified from status and `Retry-After` only;
//! error messages quote at most ~200 characters of the *response* body (never the request body),
//! scrubbed of the API key. The target is `rest:<endpoint URL>`, e.g.
//! `rest:https://crm.example.com/api/meetings`: another host or resource path is another target.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use reqwest::header::ACCEPT;
use reqwest::{Method, RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::transport::{Answer, CrmTransport, excerpt};
use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome, probe};
use crate::config::RestCrmSettings;
use crate::record::MeetingRecord;
use crate::retry::{classify_status, retry_after};

/// Longest excerpt of a response body kept in an error.
const MAX_MESSAGE: usize = 200;

/// The external id `check()` looks up: harmless whether or not it exists.
const CHECK_ID: &str = "calsync-check";

/// The generic REST CRM.
pub struct RestAdapter {
    transport: CrmTransport,
    endpoint: Url,
    api_key: Option<SecretString>,
    timeout: Duration,
    target: String,
}

/// What a look-up found.
enum Lookup {
    /// 404: no record for this external id.
    Missing,
    /// 200, with the CRM's id when the body carried one.
    Found(Option<String>),
}

impl RestAdapter {
    /// An adapter for the configured endpoint, sending through `transport`.
    pub fn new(settings: &RestCrmSettings, transport: CrmTransport) -> Self {
        let endpoint = meetings_url(&settings.base_url, &settings.meetings_path);
        RestAdapter {
            target: format!("rest:{endpoint}"),
            transport,
            endpoint,
            api_key: settings.api_key.clone(),
            timeout: settings.timeout,
        }
    }

    /// A request to the meetings resource, selected by external id when given.
    fn request(&self, method: Method, external_event_id: Option<&str>) -> RequestBuilder {
        let mut request = self
            .transport
            .http()
            .request(method, self.endpoint.clone())
            .header(ACCEPT, "application/json")
            .timeout(self.timeout);
        if let Some(id) = external_event_id {
            request = request.query(&[("external_event_id", id)]);
        }
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key.expose_secret());
        }
        request
    }

    async fn send(
        &self,
        operation: &'static str,
        request: RequestBuilder,
    ) -> Result<Answer, CrmError> {
        self.transport.send(operation, request).await
    }

    fn status_error(&self, operation: &'static str, answer: &Answer) -> CrmError {
        let status = answer.status.as_u16();
        CrmError::Status {
            operation,
            status,
            message: excerpt(
                &answer.body,
                &[self
                    .api_key
                    .as_ref()
                    .map_or("", ExposeSecret::expose_secret)],
                MAX_MESSAGE,
            ),
            retry: classify_status(status, retry_after(&answer.headers, SystemTime::now())),
        }
    }

    /// `POST`: a new record.
    async fn create(&self, record: &MeetingRecord) -> Result<UpsertOutcome, CrmError> {
        const OPERATION: &str = "rest create";
        let request = self.request(Method::POST, None).json(record);
        let answer = self.send(OPERATION, request).await?;
        if !answer.status.is_success() {
            return Err(self.status_error(OPERATION, &answer));
        }
        Ok(UpsertOutcome {
            crm_record_id: record_id(&answer.body)
                .unwrap_or_else(|| record.external_event_id.clone()),
            created: true,
        })
    }

    /// `PUT`: `None` when the CRM has no such record (404).
    async fn update(
        &self,
        record: &MeetingRecord,
        known_id: Option<&str>,
    ) -> Result<Option<UpsertOutcome>, CrmError> {
        const OPERATION: &str = "rest update";
        let request = self
            .request(Method::PUT, Some(&record.external_event_id))
            .json(record);
        let answer = self.send(OPERATION, request).await?;
        if answer.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !answer.status.is_success() {
            return Err(self.status_error(OPERATION, &answer));
        }
        let crm_record_id = record_id(&answer.body)
            .or_else(|| known_id.map(str::to_owned))
            .unwrap_or_else(|| record.external_event_id.clone());
        Ok(Some(UpsertOutcome {
            crm_record_id,
            created: false,
        }))
    }

    /// `PUT`, falling back to `POST` when the record was removed from the CRM.
    async fn update_or_create(
        &self,
        record: &MeetingRecord,
        known_id: Option<&str>,
    ) -> Result<UpsertOutcome, CrmError> {
        match self.update(record, known_id).await? {
            Some(outcome) => Ok(outcome),
            None => self.create(record).await,
        }
    }

    /// `GET` by external id.
    async fn lookup(
        &self,
        operation: &'static str,
        external_event_id: &str,
    ) -> Result<Lookup, CrmError> {
        let request = self.request(Method::GET, Some(external_event_id));
        let answer = self.send(operation, request).await?;
        if answer.status == StatusCode::NOT_FOUND {
            Ok(Lookup::Missing)
        } else if answer.status.is_success() {
            Ok(Lookup::Found(record_id(&answer.body)))
        } else {
            Err(self.status_error(operation, &answer))
        }
    }
}

#[async_trait]
impl CrmAdapter for RestAdapter {
    fn kind(&self) -> &'static str {
        "rest"
    }

    fn target(&self) -> &str {
        &self.target
    }

    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        match existing {
            ExistingRecord::None => self.create(record).await,
            ExistingRecord::Known(id) => self.update_or_create(record, Some(id)).await,
            ExistingRecord::Uncertain => {
                match self
                    .lookup("rest lookup", &record.external_event_id)
                    .await?
                {
                    Lookup::Missing => self.create(record).await,
                    Lookup::Found(id) => self.update_or_create(record, id.as_deref()).await,
                }
            }
        }
    }

    async fn soft_delete(
        &self,
        external_event_id: &str,
        _crm_record_id: &str,
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "rest delete";
        let request = self.request(Method::DELETE, Some(external_event_id));
        let answer = self.send(OPERATION, request).await?;
        if answer.status.is_success() || answer.status == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(self.status_error(OPERATION, &answer))
        }
    }

    /// Two authenticated reads. First the collection itself (`GET {endpoint}`, no query): a
    /// 404 or a redirect means `base_url` or `meetings_path` is wrong — which the look-up's 404
    /// ("no such record") cannot tell — while 2xx, 400, 405 or 422 show a resource is there.
    /// Then the look-up of an id that need not exist, where 200 and 404 are both success.
    async fn check(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "rest check";
        let endpoint = &self.endpoint;
        let answer = self
            .send(OPERATION, self.request(Method::GET, None))
            .await?;
        let location = answer
            .headers
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok());
        let settings = "crm.base_url or crm.meetings_path";
        if let Some(error) =
            probe::misdirected(OPERATION, answer.status, location, endpoint, settings)
        {
            return Err(error);
        }
        let status = answer.status.as_u16();
        if matches!(status, 401 | 403 | 408 | 429) || answer.status.is_server_error() {
            let error = self.status_error(OPERATION, &answer);
            return Err(probe::naming(error, "GET", endpoint));
        }
        let mut lookup = endpoint.clone();
        lookup
            .query_pairs_mut()
            .append_pair("external_event_id", CHECK_ID);
        self.lookup(OPERATION, CHECK_ID)
            .await
            .map(|_| ())
            .map_err(|error| probe::naming(error, "GET", &lookup))
    }
}

/// `base_url` with `meetings_path` appended to its path (a path prefix in `base_url` is kept).
fn meetings_url(base: &Url, meetings_path: &str) -> Url {
    let mut url = base.clone();
    let path = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        meetings_path.trim_start_matches('/')
    );
    url.set_path(&path);
    url
}

/// The CRM's id from a response body: a non-empty string or a number in `id`.
fn record_id(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    match value.get("id")? {
        Value::String(id) if !id.trim().is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod fake;
#[cfg(test)]
mod tests;
