//! HubSpot batch writes (`crms.md`, "Batch writes and owners"), fed by the generic
//! [`Batcher`](crate::crm::batch::Batcher): many jobs' meetings in one request.
//!
//! - Upsert, for meetings calsync has not written yet (or whose create answer was lost):
//!   `POST …/meetings/batch/upsert` with `idProperty` = the event id property, up to
//!   [`MAX_BATCH`] inputs. HubSpot matches the meeting by our id, so a write is idempotent
//!   whatever calsync knows of the record (a lost answer or a crash mid-batch is repaired by
//!   writing again, never duplicated; no search-before-create). It needs the property to have
//!   unique values (module `setup`); without that every create takes the single-request path
//!   (module `hubspot`), with a warning.
//! - Update, for meetings calsync already wrote: `POST …/meetings/batch/update` by their HubSpot
//!   id (module `batch_updates`), never by the property — one written before the property was
//!   unique may not carry it. Needs no unique property.
//! - Contact links of the meetings written: a few batch requests per batch
//!   (`batch_links`).
//! - Archive: `POST …/meetings/batch/archive` (204).
//!
//! Per-item results: a 200/207 answer's `results[]` settle their items (matched by the event id
//! property), `errors[]` fail the items they name (in `context`) with their own status and its
//! usual classification; an item named by neither is a retried protocol error. A refusal of the
//! whole request (400, 409, 422) of several items is split into one request per item, so one bad
//! record never fails its batch-mates; any other failure (429, 5xx, transport) reaches every item
//! with its classification, and each job retries on its own schedule.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use async_trait::async_trait;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{HubSpotAdapter, is_refusal, meeting_properties};
use crate::crm::batch::{BatchGate, BatchSettings, BatchWrite, Batcher, adapter_gone, all_fail};
use crate::crm::owners::Owner;
use crate::crm::vendor::decode;
use crate::crm::{CrmError, UpsertOutcome};
use crate::ids::CrmRecordId;
use crate::record::MeetingRecord;
use crate::retry::classify_status;

/// HubSpot's most inputs per batch request.
pub const MAX_BATCH: usize = 100;

/// The associations v4 batch endpoints for meeting → contact links.
pub(super) const LINKS: &[&str] = &["crm", "v4", "associations", "meetings", "contacts", "batch"];

/// One job's meeting write, its owner and contacts already resolved.
pub struct UpsertItem {
    pub record: MeetingRecord,
    pub owner: Owner,
    /// The contacts to link (`None`: linking is off).
    pub contact_ids: Option<Vec<String>>,
    /// The HubSpot id of the meeting calsync already wrote for this event (updated by that id);
    /// `None`: upserted by the event id property.
    pub known: Option<CrmRecordId>,
}

/// The adapter's batchers and what it learnt about batch upserts.
pub(super) struct Batches {
    pub upserts: Batcher<Upserts>,
    pub archives: Batcher<Archives>,
    /// Shared by both batchers; the worker pool and the backfill count their jobs in it.
    pub gate: Arc<BatchGate>,
    /// Whether the event id property has unique values (asked once, when first needed).
    pub unique_property: tokio::sync::OnceCell<bool>,
}

impl Batches {
    /// The batchers of `adapter` for `settings`, or `None` when writes go one by one (a batch
    /// size of 1).
    pub fn new(adapter: &Weak<HubSpotAdapter>, settings: BatchSettings) -> Option<Batches> {
        if settings.max_items <= 1 {
            return None;
        }
        let gate = BatchGate::new();
        let upserts = Batcher::new(Upserts(adapter.clone()), settings, UPSERT);
        let archives = Batcher::new(Archives(adapter.clone()), settings, ARCHIVE);
        Some(Batches {
            upserts: upserts.gated(gate.clone()),
            archives: archives.gated(gate.clone()),
            gate,
            unique_property: tokio::sync::OnceCell::new(),
        })
    }
}

/// Sends meeting upserts for the adapter (held weakly: the adapter owns the batcher).
pub struct Upserts(pub Weak<HubSpotAdapter>);

/// Sends meeting archives (the items are HubSpot meeting ids).
pub struct Archives(pub Weak<HubSpotAdapter>);

#[async_trait]
impl BatchWrite for Upserts {
    type Item = UpsertItem;
    type Output = UpsertOutcome;

    fn key(item: &UpsertItem) -> &str {
        item.record.event_id.as_str()
    }

    async fn write(&self, items: Vec<UpsertItem>) -> Vec<Result<UpsertOutcome, CrmError>> {
        match self.0.upgrade() {
            Some(adapter) => adapter.upsert_batch(&items).await,
            None => adapter_gone(items.len(), UPSERT),
        }
    }
}

#[async_trait]
impl BatchWrite for Archives {
    type Item = String;
    type Output = ();

    fn key(item: &String) -> &str {
        item
    }

    async fn write(&self, items: Vec<String>) -> Vec<Result<(), CrmError>> {
        match self.0.upgrade() {
            Some(adapter) => adapter.archive_batch(&items).await,
            None => adapter_gone(items.len(), ARCHIVE),
        }
    }
}

const UPSERT: &str = "hubspot batch upsert";
pub(super) const UPDATE: &str = "hubspot batch update";
const ARCHIVE: &str = "hubspot batch archive";
pub(super) const LINK_READ: &str = "hubspot batch link read";
pub(super) const LINK_CREATE: &str = "hubspot batch link create";
pub(super) const LINK_ARCHIVE: &str = "hubspot batch link archive";

/// A batch upsert or update answer (200, or 207 with errors).
#[derive(Debug, Deserialize)]
pub(super) struct UpsertAnswer {
    #[serde(default)]
    pub results: Vec<UpsertResult>,
    #[serde(default)]
    pub errors: Vec<BatchError>,
}

/// One written meeting of a batch answer.
#[derive(Debug, Deserialize)]
pub(super) struct UpsertResult {
    pub id: String,
    /// Created (an upsert's answer only).
    #[serde(default)]
    new: bool,
    #[serde(default)]
    properties: HashMap<String, Value>,
}

/// The errors of a batch answer whose results calsync does not need.
#[derive(Debug, Deserialize)]
pub(super) struct BatchErrors {
    #[serde(default)]
    pub errors: Vec<BatchError>,
}

/// One entry of a batch answer's `errors[]`.
#[derive(Debug, Deserialize)]
pub(super) struct BatchError {
    #[serde(default)]
    status: Value,
    #[serde(default)]
    message: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    context: HashMap<String, Vec<String>>,
}

impl BatchError {
    /// The item error: its own status (400 when HubSpot gives none), classified as usual.
    pub(super) fn to_error(&self, operation: &'static str) -> CrmError {
        let status = match &self.status {
            Value::String(text) => text.parse().ok(),
            Value::Number(number) => number.as_u64().and_then(|n| u16::try_from(n).ok()),
            _ => None,
        }
        .filter(|status| (400..600).contains(status))
        .unwrap_or(400);
        CrmError::Status {
            operation,
            status,
            message: self.message.chars().take(200).collect(),
            retry: classify_status(status, None),
        }
    }

    /// Whether HubSpot says the object does not exist (deleted or archived in HubSpot).
    pub(super) fn is_not_found(&self) -> bool {
        self.category == "OBJECT_NOT_FOUND"
    }

    /// Whether the error names `key` in its context.
    pub(super) fn names(&self, key: &str) -> bool {
        self.context.values().flatten().any(|value| value == key)
    }
}

impl HubSpotAdapter {
    /// Writes `items`: the new meetings in one upsert request and the known ones in one update
    /// request, sent together (each split per item when HubSpot refuses it whole); then brings
    /// the written meetings' contact links in line. Answers in the order of `items`.
    pub(super) async fn upsert_batch(
        &self,
        items: &[UpsertItem],
    ) -> Vec<Result<UpsertOutcome, CrmError>> {
        let (known, new): (Vec<&UpsertItem>, Vec<&UpsertItem>) =
            items.iter().partition(|item| item.known.is_some());
        let (updated, upserted) = tokio::join!(self.update_known(&known), self.upsert_new(&new));
        let (mut updated, mut upserted) = (updated.into_iter(), upserted.into_iter());
        let mut results: Vec<_> = items
            .iter()
            .map(|item| {
                let next = if item.known.is_some() {
                    updated.next()
                } else {
                    upserted.next()
                };
                next.unwrap_or_else(|| Err(missing(UPSERT)))
            })
            .collect();
        if self.linking.link_contacts {
            self.link_batch(items, &mut results).await;
        }
        results
    }

    /// Upserts the new meetings `items` by the event id property in one request (none when
    /// empty; one per item when HubSpot refuses the whole request).
    async fn upsert_new(&self, items: &[&UpsertItem]) -> Vec<Result<UpsertOutcome, CrmError>> {
        if items.is_empty() {
            return Vec::new();
        }
        match self.send_upserts(items).await {
            Ok(results) => results,
            Err(error) if items.len() > 1 && is_refusal(&error) => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    let alone = self.send_upserts(&[item]).await;
                    let result = match alone {
                        Ok(mut answered) => answered.pop().unwrap_or_else(|| Err(missing(UPSERT))),
                        Err(error) => Err(error),
                    };
                    results.push(result);
                }
                results
            }
            Err(error) => all_fail(items.len(), error),
        }
    }

    /// One `batch/upsert` request for `items`: answered per item, or the failure of the whole
    /// request.
    async fn send_upserts(
        &self,
        items: &[&UpsertItem],
    ) -> Result<Vec<Result<UpsertOutcome, CrmError>>, CrmError> {
        let inputs: Vec<Value> = items
            .iter()
            .map(|item| {
                let id = item.record.event_id.as_str();
                json!({
                    "idProperty": self.event_id_property,
                    "id": id,
                    "objectWriteTraceId": id,
                    "properties": meeting_properties(&item.record, &self.event_id_property, &item.owner),
                })
            })
            .collect();
        let url = self.meetings_url(&["batch", "upsert"]);
        let body = json!({ "inputs": inputs });
        let sent = self
            .client
            .exchange(UPSERT, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(UPSERT, sent)?;
        let answer: UpsertAnswer = decode(UPSERT, &sent, "the batch answer has no results")?;
        Ok(items
            .iter()
            .map(|item| {
                let key = item.record.event_id.as_str();
                let written = answer.results.iter().find(|result| {
                    result
                        .properties
                        .get(&self.event_id_property)
                        .and_then(Value::as_str)
                        == Some(key)
                });
                if let Some(written) = written {
                    return Ok(UpsertOutcome {
                        crm_record_id: written.id.clone().into(),
                        created: written.new,
                    });
                }
                match answer.errors.iter().find(|error| error.names(key)) {
                    Some(error) => Err(error.to_error(UPSERT)),
                    None => Err(missing(UPSERT)),
                }
            })
            .collect())
    }

    /// Archives the meetings `ids` in one request (split per meeting when refused).
    pub(super) async fn archive_batch(&self, ids: &[String]) -> Vec<Result<(), CrmError>> {
        match self.send_archives(ids).await {
            Err(error) if ids.len() > 1 && is_refusal(&error) => {
                let mut results = Vec::with_capacity(ids.len());
                for id in ids {
                    results.push(self.send_archives(std::slice::from_ref(id)).await);
                }
                results
            }
            Err(error) => all_fail(ids.len(), error),
            Ok(()) => ids.iter().map(|_| Ok(())).collect(),
        }
    }

    async fn send_archives(&self, ids: &[String]) -> Result<(), CrmError> {
        let inputs: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
        let url = self.meetings_url(&["batch", "archive"]);
        let body = json!({ "inputs": inputs });
        let sent = self
            .client
            .exchange(ARCHIVE, Method::POST, &url, Some(&body))
            .await?;
        self.client.success(ARCHIVE, sent).map(|_| ())
    }
}

/// An item the answer says nothing about: retried.
pub(super) fn missing(operation: &'static str) -> CrmError {
    CrmError::Protocol {
        operation,
        message: "the batch answer names neither a result nor an error for this item".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_default_batch_size_is_hubspots_maximum() {
        assert_eq!(
            crate::config::defaults::crm::hubspot_batch_size(),
            super::MAX_BATCH
        );
    }
}
