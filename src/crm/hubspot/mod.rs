//! The HubSpot adapter (`kind = "hubspot"`): one meeting engagement per event, on the
//! date-versioned CRM API (`/crm/objects/2026-03/meetings`), authenticated with a bearer token.
//!
//! Upsert strategy (`crms.md`, "HubSpot"): HubSpot does not prevent duplicates, so calsync's own
//! map event id → meeting id is the key.
//! - never created → `POST …/meetings` with the properties and the contact associations
//!   (type 200, meeting → contact);
//! - known id → `PATCH …/meetings/{id}`; a 404 means the meeting was deleted or archived in
//!   HubSpot, and it is created again;
//! - uncertain (a create whose answer was lost) → `POST …/meetings/search` on the event id
//!   property; found → PATCH it, not found → create. The search index lags writes by seconds, so
//!   a create lost less than that ago can still be created twice: the worker retries an uncertain
//!   create only after a backoff, which keeps that window small.
//! - soft-delete → `DELETE …/meetings/{id}` (archives to the recycle bin); 404 = already gone.
//!
//! Batching (`crm.batch_size` > 1, the default): writes from concurrent jobs are gathered into
//! batch requests (`batch`): upserts by the event id property for meetings not known yet (never
//! created, or a create whose answer was lost: idempotent, so no search and no duplicate),
//! updates of known meetings by their HubSpot id (`batch_updates`), and archives. A known
//! meeting is always written by its id, never upserted: one written before the property was
//! unique may not carry it, and an upsert would create a second meeting. Batch upserts need the
//! property to have unique values; the adapter asks HubSpot once
//! (`GET /crm/v3/properties/meetings/<property>`) and, when it is missing or not unique, warns
//! and creates every new meeting with the single requests above instead (`calsync check` fails
//! and says how to create the property). Updates and archives are batched either way.
//!
//! Contact links (`contacts`) follow the attendees on every write; the owner
//! (`hubspot_owner_id`) is the HubSpot owner with the record's `owner_email` (`owners`). Throttle signals and errors
//! are classified in `errors`. The target is `hubspot:<base_url>`.

mod batch;
mod batch_links;
mod batch_updates;
mod contacts;
mod errors;
mod owners;
mod properties;
mod setup;

use std::sync::Arc;

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use self::batch::Batches;
use self::errors::HubSpotApi;
use super::batch::{BatchGate, BatchSettings};
use super::contacts::ContactCache;
use super::owners::{Owner, OwnerDirectory};
use super::transport::CrmTransport;
use super::vendor::{NO_BODY, VendorClient, decode};
use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome, probe};
use crate::config::{ContactLinking, HubSpotCrmSettings};
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;

pub use batch::MAX_BATCH;
pub use properties::{OUTCOME_CANCELED, OUTCOME_SCHEDULED, meeting_properties};

/// The meetings object on the date-versioned API.
const MEETINGS: &[&str] = &["crm", "objects", "2026-03", "meetings"];

/// The HubSpot-defined association type "meeting to contact".
const MEETING_TO_CONTACT: u32 = 200;

/// The most meetings a recovery search reads (more than one means duplicates already exist).
const SEARCH_LIMIT: u32 = 10;

/// The HubSpot meetings adapter.
pub struct HubSpotAdapter {
    client: VendorClient<HubSpotApi>,
    base: Url,
    event_id_property: String,
    linking: ContactLinking,
    internal_domains: Vec<String>,
    contacts: ContactCache,
    owners: OwnerDirectory,
    target: TargetId,
    /// Batch writers, when `crm.batch_size` > 1.
    batches: Option<Batches>,
}

/// A created or read object: only its id matters.
#[derive(Debug, Deserialize)]
struct Object {
    id: String,
}

/// A search answer.
#[derive(Debug, Deserialize)]
struct SearchResults {
    results: Vec<Object>,
}

impl HubSpotAdapter {
    /// An adapter for the configured portal; attendees at `internal_domains` are never linked.
    /// It batches its writes when `crm.batch_size` > 1 (the batchers hold it weakly).
    pub fn shared(
        settings: &HubSpotCrmSettings,
        internal_domains: &[String],
        transport: CrmTransport,
    ) -> Arc<Self> {
        let batching = BatchSettings {
            linger: settings.batch_linger,
            max_items: settings.batch_size.min(MAX_BATCH),
        };
        Arc::new_cyclic(|adapter| HubSpotAdapter {
            batches: Batches::new(adapter, batching),
            ..Self::unbatched(settings, internal_domains, transport)
        })
    }

    /// An adapter writing each meeting with its own requests.
    fn unbatched(
        settings: &HubSpotCrmSettings,
        internal_domains: &[String],
        transport: CrmTransport,
    ) -> Self {
        let owners =
            OwnerDirectory::new(settings.default_owner.clone(), transport.metrics().clone());
        HubSpotAdapter {
            batches: None,
            target: TargetId::new(format!("hubspot:{}", settings.base_url)),
            client: VendorClient::new(
                transport,
                HubSpotApi {
                    token: settings.token.clone(),
                },
                settings.timeout,
            ),
            base: settings.base_url.clone(),
            event_id_property: settings.event_id_property.clone(),
            linking: settings.contacts,
            internal_domains: internal_domains.to_vec(),
            contacts: ContactCache::default(),
            owners,
        }
    }

    /// `base_url` + the given path segments (each percent-encoded as one segment).
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// The meetings collection, or one meeting, plus further segments.
    fn meetings_url(&self, rest: &[&str]) -> Url {
        let segments: Vec<&str> = MEETINGS.iter().chain(rest).copied().collect();
        self.url(&segments)
    }

    /// `POST …/meetings`, associated with `contact_ids`. If HubSpot refuses the associations
    /// (e.g. a cached contact was deleted since), creates without them and links one by one.
    async fn create(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        contact_ids: Option<&[String]>,
    ) -> Result<UpsertOutcome, CrmError> {
        let wanted = contact_ids.unwrap_or_default();
        let id = match self.post_meeting(record, owner, wanted).await {
            Ok(id) => id,
            Err(error) if !wanted.is_empty() && is_refusal(&error) => {
                tracing::warn!(
                    error = %crate::cause::Chain(&error),
                    "HubSpot refused the meeting with its contact associations; creating it without them and linking the contacts one by one."
                );
                let id = self.post_meeting(record, owner, &[]).await?;
                self.link_each(&id, wanted).await?;
                id
            }
            Err(error) => return Err(error),
        };
        Ok(UpsertOutcome {
            crm_record_id: CrmRecordId::new(id),
            created: true,
        })
    }

    async fn post_meeting(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        contact_ids: &[String],
    ) -> Result<String, CrmError> {
        const OPERATION: &str = "hubspot create";
        let associations: Vec<Value> = contact_ids
            .iter()
            .map(|id| {
                json!({
                    "to": {"id": id},
                    "types": [{
                        "associationCategory": "HUBSPOT_DEFINED",
                        "associationTypeId": MEETING_TO_CONTACT
                    }]
                })
            })
            .collect();
        let body = json!({
            "properties": meeting_properties(record, &self.event_id_property, owner),
            "associations": associations,
        });
        let url = self.meetings_url(&[]);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let created: Object = decode(OPERATION, &sent, "the created meeting has no id")?;
        Ok(created.id)
    }

    /// `PATCH …/meetings/{id}`; `false` when HubSpot has no such (live) meeting.
    async fn patch_meeting(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        id: &str,
    ) -> Result<bool, CrmError> {
        const OPERATION: &str = "hubspot update";
        let properties = meeting_properties(record, &self.event_id_property, owner);
        let body = json!({ "properties": properties });
        let url = self.meetings_url(&[id]);
        let sent = self
            .client
            .exchange(OPERATION, Method::PATCH, &url, Some(&body))
            .await?;
        self.client.exists(OPERATION, &sent)
    }

    /// PATCH the meeting and bring its contact links in line; create it again when it is gone.
    async fn update_or_create(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        id: &str,
        contact_ids: Option<&[String]>,
    ) -> Result<UpsertOutcome, CrmError> {
        if !self.patch_meeting(record, owner, id).await? {
            tracing::info!(
                "The HubSpot meeting was deleted or archived in HubSpot; creating it again."
            );
            return self.create(record, owner, contact_ids).await;
        }
        if let Some(wanted) = contact_ids {
            self.sync_links(id, wanted).await?;
        }
        Ok(UpsertOutcome {
            crm_record_id: CrmRecordId::new(id),
            created: false,
        })
    }

    /// The meeting holding `external_event_id` in the event id property, if any (the oldest
    /// when there are several).
    async fn find_by_event_id(&self, external_event_id: &str) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "hubspot search";
        let body = json!({
            "filterGroups": [{"filters": [{
                "propertyName": self.event_id_property,
                "operator": "EQ",
                "value": external_event_id
            }]}],
            "properties": [self.event_id_property],
            "sorts": [],
            "limit": SEARCH_LIMIT,
            "after": "0"
        });
        let url = self.meetings_url(&["search"]);
        let sent = self
            .client
            .exchange(OPERATION, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let found: SearchResults = decode(OPERATION, &sent, "the search answer has no results")?;
        if found.results.len() > 1 {
            tracing::warn!(
                count = found.results.len(),
                "HubSpot holds several meetings for this event; calsync keeps writing the oldest."
            );
        }
        Ok(found
            .results
            .into_iter()
            .map(|object| object.id)
            .min_by_key(|id| (id.parse::<u128>().unwrap_or(u128::MAX), id.clone())))
    }
}

/// A 4xx that says the request itself was refused (not auth, not throttling).
fn is_refusal(error: &CrmError) -> bool {
    matches!(error, CrmError::Status { status, .. } if matches!(status, 400 | 404 | 409 | 422))
}

#[async_trait]
impl CrmAdapter for HubSpotAdapter {
    fn kind(&self) -> &'static str {
        "hubspot"
    }

    fn target(&self) -> &TargetId {
        &self.target
    }

    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        let owner = self.owner(record).await?;
        let contact_ids = self.contact_ids(record).await?;
        // A meeting calsync already wrote is updated by its HubSpot id, never upserted by the
        // event id property: one written before that property became unique may not carry it,
        // and an upsert would create a second meeting beside it. New meetings (and a create
        // whose answer was lost) go through the idempotent batch upsert, when it is usable.
        let known = match existing {
            ExistingRecord::Known(id) => Some(id.clone()),
            ExistingRecord::None | ExistingRecord::Uncertain => None,
        };
        if let Some(batches) = &self.batches
            && (known.is_some() || self.batch_upserts_usable(batches).await?)
        {
            let item = batch::UpsertItem {
                record: record.clone(),
                owner,
                contact_ids,
                known,
            };
            return batches.upserts.submit(item).await;
        }
        let contact_ids = contact_ids.as_deref();
        match existing {
            ExistingRecord::None => self.create(record, &owner, contact_ids).await,
            ExistingRecord::Known(id) => {
                self.update_or_create(record, &owner, id.as_str(), contact_ids)
                    .await
            }
            ExistingRecord::Uncertain => {
                match self.find_by_event_id(record.event_id.as_str()).await? {
                    Some(id) => {
                        self.update_or_create(record, &owner, &id, contact_ids)
                            .await
                    }
                    None => self.create(record, &owner, contact_ids).await,
                }
            }
        }
    }

    async fn soft_delete(
        &self,
        _event_id: &EventId,
        crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "hubspot delete";
        if let Some(batches) = &self.batches {
            return batches
                .archives
                .submit(crm_record_id.as_str().to_owned())
                .await;
        }
        let url = self.meetings_url(&[crm_record_id.as_str()]);
        let sent = self
            .client
            .exchange(OPERATION, Method::DELETE, &url, NO_BODY)
            .await?;
        self.client.exists(OPERATION, &sent).map(|_| ())
    }

    /// Lists one meeting (`GET …/meetings?limit=1`): needs the right base URL and a valid token
    /// with the meetings read scope; a failure names the URL.
    async fn check(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "hubspot check";
        let mut url = self.meetings_url(&[]);
        url.query_pairs_mut().append_pair("limit", "1");
        let sent = self
            .client
            .exchange(OPERATION, Method::GET, &url, NO_BODY)
            .await
            .map_err(|error| probe::naming(error, "GET", &url))?;
        if !sent.answer.status.is_success() {
            return Err(probe::naming(
                self.client.status_error(OPERATION, &sent),
                "GET",
                &url,
            ));
        }
        self.check_id_property().await
    }

    /// The batch size while batch upserts may be used; 1 once the event id property turned out
    /// not to be unique (every write is then a single request, so a full batch of jobs in flight
    /// would only multiply concurrent requests). The worker pool reads this when it starts, a
    /// backfill before each page.
    fn batch_capacity(&self) -> usize {
        match &self.batches {
            Some(batches) if batches.unique_property.get() != Some(&false) => {
                batches.upserts.settings().max_items
            }
            _ => 1,
        }
    }

    fn batch_gate(&self) -> Option<Arc<BatchGate>> {
        self.batches.as_ref().map(|batches| batches.gate.clone())
    }
}
