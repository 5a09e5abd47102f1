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

use async_trait::async_trait;
use reqwest::{Method, RequestBuilder};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::transport::CrmTransport;
use super::vendor::{NO_BODY, Vendor, VendorClient};
use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome, probe};
use crate::config::RestCrmSettings;
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;

/// The external id `check()` looks up: harmless whether or not it exists.
const CHECK_ID: &str = "calsync-check";

/// What the generic REST CRM plugs into the shared client: an optional bearer key, no throttle
/// signals beyond the transport's 429 handling, errors quoted from the body.
pub struct RestApi {
    api_key: Option<SecretString>,
}

impl Vendor for RestApi {
    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.api_key {
            Some(key) => request.bearer_auth(key.expose_secret()),
            None => request,
        }
    }

    fn secrets(&self) -> Vec<&str> {
        self.api_key.iter().map(|key| key.expose_secret()).collect()
    }
}

/// The generic REST CRM.
pub struct RestAdapter {
    client: VendorClient<RestApi>,
    endpoint: Url,
    target: TargetId,
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
        let api = RestApi {
            api_key: settings.api_key.clone(),
        };
        RestAdapter {
            target: TargetId::new(format!("rest:{endpoint}")),
            client: VendorClient::new(transport, api, settings.timeout),
            endpoint,
        }
    }

    /// The meetings resource, selected by external id when given.
    fn url(&self, external_event_id: Option<&str>) -> Url {
        let mut url = self.endpoint.clone();
        if let Some(id) = external_event_id {
            url.query_pairs_mut().append_pair("external_event_id", id);
        }
        url
    }

    /// `POST`: a new record.
    async fn create(&self, record: &MeetingRecord) -> Result<UpsertOutcome, CrmError> {
        const OPERATION: &str = "rest create";
        let url = self.url(None);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(record))
            .await?;
        let answer = self.client.success(OPERATION, sent)?;
        Ok(UpsertOutcome {
            crm_record_id: CrmRecordId::new(
                record_id(&answer.body).unwrap_or_else(|| record.event_id.to_string()),
            ),
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
        let url = self.url(Some(record.event_id.as_str()));
        let answer = self
            .client
            .exchange(OPERATION, Method::PUT, &url, Some(record))
            .await?;
        if !self.client.exists(OPERATION, &answer)? {
            return Ok(None);
        }
        let crm_record_id = record_id(&answer.body)
            .or_else(|| known_id.map(str::to_owned))
            .unwrap_or_else(|| record.event_id.to_string());
        Ok(Some(UpsertOutcome {
            crm_record_id: CrmRecordId::new(crm_record_id),
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
        let url = self.url(Some(external_event_id));
        let answer = self
            .client
            .exchange(operation, Method::GET, &url, NO_BODY)
            .await?;
        Ok(match self.client.exists(operation, &answer)? {
            true => Lookup::Found(record_id(&answer.body)),
            false => Lookup::Missing,
        })
    }
}

#[async_trait]
impl CrmAdapter for RestAdapter {
    fn kind(&self) -> &'static str {
        "rest"
    }

    fn target(&self) -> &TargetId {
        &self.target
    }

    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        let fitted = super::limits::fit_rest_record(record);
        let record = fitted.as_ref();
        match existing {
            ExistingRecord::None => self.create(record).await,
            ExistingRecord::Known(id) => self.update_or_create(record, Some(id.as_str())).await,
            ExistingRecord::Uncertain => {
                match self.lookup("rest lookup", record.event_id.as_str()).await? {
                    Lookup::Missing => self.create(record).await,
                    Lookup::Found(id) => self.update_or_create(record, id.as_deref()).await,
                }
            }
        }
    }

    async fn soft_delete(
        &self,
        event_id: &EventId,
        _crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "rest delete";
        let url = self.url(Some(event_id.as_str()));
        let answer = self
            .client
            .exchange(OPERATION, Method::DELETE, &url, NO_BODY)
            .await?;
        self.client.exists(OPERATION, &answer).map(|_| ())
    }

    /// Two authenticated reads. First the collection itself (`GET {endpoint}`, no query): a
    /// 404 or a redirect means `base_url` or `meetings_path` is wrong — which the look-up's 404
    /// ("no such record") cannot tell — while 2xx, 400, 405 or 422 show a resource is there.
    /// Then the look-up of an id that need not exist, where 200 and 404 are both success.
    async fn check(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "rest check";
        let endpoint = &self.endpoint;
        let answer = self
            .client
            .exchange(OPERATION, Method::GET, endpoint, NO_BODY)
            .await
            .map_err(|error| probe::naming(error, "GET", endpoint))?;
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
            let error = self.client.status_error(OPERATION, &answer);
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
