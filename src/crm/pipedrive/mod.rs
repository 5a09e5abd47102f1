//! The Pipedrive adapter (`kind = "pipedrive"`): one activity of type `meeting` per event, on
//! API v2 (`{base_url}/api/v2/activities`), authenticated with the `x-api-token` header.
//!
//! Upsert strategy (`crms.md`, "Pipedrive"): activities have no API-creatable custom fields and
//! cannot be searched by our id, so calsync's map event id → activity id is the key.
//! - never created → `POST /api/v2/activities`;
//! - known id → `PATCH /api/v2/activities/{id}`; a 404 means the activity was deleted in
//!   Pipedrive, and it is created again;
//! - uncertain (a create whose answer was lost) → `recover`: the recently updated activities
//!   are scanned for the note's marker line; found → PATCH it, not found → create (with a
//!   warning: a duplicate is possible if the lost create is older than the scanned window);
//! - soft-delete → `DELETE /api/v2/activities/{id}` (Pipedrive marks it deleted and purges it
//!   after 30 days); 404 = already gone.
//!
//! Persons are linked as `participants` (`persons`); the body is built by `activity`;
//! throttling and errors are classified in `errors`. The target is `pipedrive:<base_url>`.

mod activity;
mod errors;
mod owners;
mod persons;
mod recover;

use async_trait::async_trait;
use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use self::errors::PipedriveApi;
use super::contacts::ContactCache;
use super::owners::OwnerDirectory;
use super::transport::CrmTransport;
use super::vendor::{NO_BODY, Sent, VendorClient, protocol_error};
use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome, probe};
use crate::config::{ContactLinking, PipedriveCrmSettings};
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;

pub use activity::{ACTIVITY_TYPE, CANCELLED_PREFIX, MARKER, Person, activity_body, has_marker};

/// The Pipedrive activities adapter.
pub struct PipedriveAdapter {
    client: VendorClient<PipedriveApi>,
    base: Url,
    linking: ContactLinking,
    internal_domains: Vec<String>,
    persons: ContactCache,
    owners: OwnerDirectory,
    target: TargetId,
}

/// `{"success": true, "data": {...}}`.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    data: Option<T>,
}

/// An activity or person: only its id matters here.
#[derive(Debug, Deserialize)]
struct Created {
    id: i64,
}

impl PipedriveAdapter {
    /// An adapter for the configured company; attendees at `internal_domains` are never linked.
    pub fn new(
        settings: &PipedriveCrmSettings,
        internal_domains: &[String],
        transport: CrmTransport,
    ) -> Self {
        let owners =
            OwnerDirectory::new(settings.default_owner.clone(), transport.metrics().clone());
        PipedriveAdapter {
            target: TargetId::new(format!("pipedrive:{}", settings.base_url)),
            client: VendorClient::new(
                transport,
                PipedriveApi {
                    token: settings.api_token.clone(),
                },
                settings.timeout,
            ),
            base: settings.base_url.clone(),
            linking: settings.contacts,
            internal_domains: internal_domains.to_vec(),
            persons: ContactCache::default(),
            owners,
        }
    }

    /// `{base_url}/api/v2/` + the given segments (each percent-encoded as one segment). A
    /// `base_url` that already ends in `/api/v2` is not doubled.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        let prefix = url.path().trim_end_matches('/').to_owned();
        let prefix = prefix.strip_suffix("/api/v2").unwrap_or(&prefix).to_owned();
        url.set_path(&prefix);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v2"]).extend(segments);
        }
        url
    }

    /// The `data.id` of a success answer.
    fn created_id(operation: &'static str, sent: &Sent) -> Result<i64, CrmError> {
        serde_json::from_slice::<Envelope<Created>>(&sent.answer.body)
            .ok()
            .and_then(|envelope| envelope.data)
            .map(|created| created.id)
            .ok_or_else(|| protocol_error(operation, "the answer has no data.id"))
    }

    /// `POST /api/v2/activities`.
    async fn create(&self, body: &Value) -> Result<UpsertOutcome, CrmError> {
        const OPERATION: &str = "pipedrive create";
        let url = self.url(&["activities"]);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(body))
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        Ok(UpsertOutcome {
            crm_record_id: CrmRecordId::new(Self::created_id(OPERATION, &sent)?.to_string()),
            created: true,
        })
    }

    /// `PATCH /api/v2/activities/{id}`, or a create when the activity is gone.
    async fn update_or_create(&self, id: &str, body: &Value) -> Result<UpsertOutcome, CrmError> {
        const OPERATION: &str = "pipedrive update";
        if id.parse::<i64>().is_err() {
            tracing::warn!(
                "The remembered Pipedrive activity id is not a number; creating the activity again."
            );
            return self.create(body).await;
        }
        let url = self.url(&["activities", id]);
        let sent = self
            .client
            .exchange(OPERATION, Method::PATCH, &url, Some(body))
            .await?;
        match sent.answer.status {
            status if status.is_success() => Ok(UpsertOutcome {
                crm_record_id: CrmRecordId::new(id),
                created: false,
            }),
            StatusCode::NOT_FOUND | StatusCode::GONE => {
                tracing::info!(
                    "The Pipedrive activity was deleted in Pipedrive; creating it again."
                );
                self.create(body).await
            }
            _ => Err(self.client.status_error(OPERATION, &sent)),
        }
    }

    /// Creates or updates the activity as `existing` says.
    async fn write(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
        persons: Option<&[Person]>,
    ) -> Result<UpsertOutcome, CrmError> {
        let mut body = activity_body(record, persons);
        owners::set_owner(&mut body, &self.owner(record).await?);
        match existing {
            ExistingRecord::None => self.create(&body).await,
            ExistingRecord::Known(id) => self.update_or_create(id.as_str(), &body).await,
            ExistingRecord::Uncertain => {
                match self.find_by_marker(record.event_id.as_str()).await? {
                    Some(id) => self.update_or_create(&id.to_string(), &body).await,
                    None => {
                        tracing::warn!(
                            "A create whose answer was lost left no activity calsync can find; creating it (a duplicate is possible if the lost one is older than the scanned window)."
                        );
                        self.create(&body).await
                    }
                }
            }
        }
    }
}

/// A 4xx that refuses the request body (not auth, not throttling, not a missing activity).
fn is_refusal(error: &CrmError) -> bool {
    matches!(
        error,
        CrmError::Status {
            status: 400 | 422,
            ..
        }
    )
}

#[async_trait]
impl CrmAdapter for PipedriveAdapter {
    fn kind(&self) -> &'static str {
        "pipedrive"
    }

    fn target(&self) -> &TargetId {
        &self.target
    }

    /// Writes the activity with its participants; if Pipedrive refuses the body while it names
    /// persons (a cached person may have been deleted or merged since), writes it once more
    /// without touching the participants.
    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        let persons = self.persons_for(record).await?;
        let linked = persons.as_deref();
        match self.write(record, existing, linked).await {
            Err(error) if linked.is_some_and(|p| !p.is_empty()) && is_refusal(&error) => {
                tracing::warn!(
                    error = %crate::cause::Chain(&error),
                    "Pipedrive refused the activity with its participants; writing it without changing them."
                );
                self.write(record, existing, None).await
            }
            other => other,
        }
    }

    async fn soft_delete(
        &self,
        _event_id: &EventId,
        crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "pipedrive delete";
        let crm_record_id = crm_record_id.as_str();
        if crm_record_id.parse::<i64>().is_err() {
            tracing::warn!(
                "The remembered Pipedrive activity id is not a number; nothing to delete."
            );
            return Ok(());
        }
        let url = self.url(&["activities", crm_record_id]);
        let sent = self
            .client
            .exchange(OPERATION, Method::DELETE, &url, NO_BODY)
            .await?;
        let status = sent.answer.status;
        if status.is_success() || status == StatusCode::NOT_FOUND || status == StatusCode::GONE {
            Ok(())
        } else {
            Err(self.client.status_error(OPERATION, &sent))
        }
    }

    /// Lists one activity (`GET /api/v2/activities?limit=1`): needs the company's URL and a
    /// valid token for it; a failure names the URL.
    async fn check(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "pipedrive check";
        let mut url = self.url(&["activities"]);
        url.query_pairs_mut().append_pair("limit", "1");
        let sent = self
            .client
            .exchange(OPERATION, Method::GET, &url, NO_BODY)
            .await
            .map_err(|error| probe::naming(error, "GET", &url))?;
        if sent.answer.status.is_success() {
            Ok(())
        } else {
            Err(probe::naming(
                self.client.status_error(OPERATION, &sent),
                "GET",
                &url,
            ))
        }
    }
}
