//! Salesforce batch writes through sObject Collections (`crms.md`, "Batch writes and owners"),
//! fed by the generic [`Batcher`]: many jobs' Events in one request, each answered on its own.
//!
//! - Upsert: `PATCH {api}/composite/sobjects/Event/{external id field}` with
//!   `{"allOrNone": false, "records": [{"attributes": {"type": "Event"}, "<field>": "<event id>",
//!   …fields}]}`, up to [`MAX_BATCH`] records. Keyed by our id like the single upsert, so a lost
//!   answer or a crash mid-batch is repaired by writing again, never duplicated.
//! - Delete: `DELETE {api}/composite/sobjects?ids=<id>,<id>&allOrNone=false` (up to
//!   [`MAX_BATCH`]); a per-item `NOT_FOUND` or `ENTITY_IS_DELETED` means already gone.
//! - Collections exist from API v46.0: with an older `crm.api_version` nothing is batched (logged
//!   once, when the adapter is built).
//!
//! Per-item results: the answer is an array in input order of `{id, success, errors[{statusCode,
//! message, fields}], created}`. Each item's result is turned into the answer the single request
//! for that record would have had (its `statusCode` is the `errorCode`, with the status the
//! single request answers it with) and settled by the single path's own code, so an item is
//! classified exactly as a single write of it. A failure of the whole request (403
//! `REQUEST_LIMIT_EXCEEDED`, 5xx, transport, a 401 left after the session renewal) reaches every
//! item with its classification; a whole-request 400 is every item's own refusal. Items refused
//! with `INVALID_FIELD` on `EventWhoIds` (Shared Activities off) are sent again with `WhoId`
//! only, and the adapter remembers it as the single path does.

use std::sync::{Arc, Weak};

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

use super::errors::{self, ApiError};
use super::fields::{Links, event_body};
use super::{EVENT_WHO_IDS, SalesforceAdapter};
use crate::crm::batch::{BatchGate, BatchSettings, BatchWrite, Batcher, adapter_gone, all_fail};
use crate::crm::owners::Owner;
use crate::crm::transport::Answer;
use crate::crm::vendor::Sent;
use crate::crm::{CrmError, ExistingRecord, UpsertOutcome};
use crate::record::MeetingRecord;

/// The most records of one sObject Collections request.
pub const MAX_BATCH: usize = 200;

/// The first API version with sObject Collections upserts.
const FIRST_VERSION: u32 = 46;

const UPSERT: &str = "salesforce batch upsert";
const DELETE: &str = "salesforce batch delete";

/// One job's Event write, its owner and links already resolved.
pub struct UpsertItem {
    pub record: MeetingRecord,
    pub owner: Owner,
    /// The people to link (`None`: linking is off).
    pub links: Option<Links>,
}

/// Sends Event upserts for the adapter (held weakly: the adapter owns the batcher).
pub struct Upserts(pub Weak<SalesforceAdapter>);

/// Sends Event deletes (the items are Salesforce record ids).
pub struct Deletes(pub Weak<SalesforceAdapter>);

/// The adapter's batchers.
pub struct Batches {
    pub upserts: Batcher<Upserts>,
    pub deletes: Batcher<Deletes>,
    /// Shared by both batchers; the worker pool and the backfill count their jobs in it.
    pub gate: Arc<BatchGate>,
}

impl Batches {
    /// The batchers for `settings`, or `None` when writes go one by one: a batch size of 1, or an
    /// API version without collections (logged).
    pub fn new(
        adapter: &Weak<SalesforceAdapter>,
        settings: BatchSettings,
        api_version: &str,
    ) -> Option<Batches> {
        if settings.max_items <= 1 {
            return None;
        }
        if major_version(api_version) < FIRST_VERSION {
            tracing::warn!(
                crm.kind = "salesforce",
                api_version,
                "sObject Collections need API v46.0 or later: every Event is written with its own request. Set crm.api_version to v46.0 or later to batch writes."
            );
            return None;
        }
        let gate = BatchGate::new();
        Some(Batches {
            upserts: Batcher::new(Upserts(adapter.clone()), settings, UPSERT).gated(gate.clone()),
            deletes: Batcher::new(Deletes(adapter.clone()), settings, DELETE).gated(gate.clone()),
            gate,
        })
    }
}

/// `62` of `v62.0` (0 when unreadable: no batching).
fn major_version(version: &str) -> u32 {
    let number = version.trim_start_matches('v');
    let major = number.split('.').next().unwrap_or_default();
    major.parse().unwrap_or(0)
}

/// Whether a record id can go in the `ids` list of a collections delete (Salesforce ids are
/// alphanumeric; anything else, or no id, takes the single request).
pub fn batchable_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

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
impl BatchWrite for Deletes {
    type Item = String;
    type Output = ();

    fn key(item: &String) -> &str {
        item
    }

    async fn write(&self, items: Vec<String>) -> Vec<Result<(), CrmError>> {
        match self.0.upgrade() {
            Some(adapter) => adapter.delete_batch(&items).await,
            None => adapter_gone(items.len(), DELETE),
        }
    }
}

/// One entry of a collections answer.
#[derive(Debug, Deserialize)]
struct ItemResult {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    success: bool,
    #[serde(default)]
    errors: Vec<ItemError>,
    #[serde(default)]
    created: Option<bool>,
}

/// One error of an entry: `statusCode` holds what the single request calls `errorCode`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemError {
    #[serde(default)]
    status_code: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    fields: Vec<String>,
}

impl ItemResult {
    /// The errors in the single request's terms.
    fn api_errors(&self) -> Vec<ApiError> {
        let errors = self.errors.iter();
        errors
            .map(|error| ApiError {
                message: error.message.clone(),
                error_code: error.status_code.clone(),
                fields: error.fields.clone(),
            })
            .collect()
    }

    /// The answer the single request for this record would have had.
    fn as_single_answer(&self) -> Sent {
        if self.success {
            let created = self.created == Some(true);
            let body = json!({"id": self.id, "success": true, "errors": [], "created": created});
            let status = match created {
                true => StatusCode::CREATED,
                false => StatusCode::OK,
            };
            return answer(status, body);
        }
        let errors = self.api_errors();
        let status = errors::single_status(&errors);
        let body: Vec<Value> = errors
            .iter()
            .map(|e| json!({"message": e.message, "errorCode": e.error_code, "fields": e.fields}))
            .collect();
        answer(status, Value::Array(body))
    }
}

/// A synthesized answer (no headers: a per-item result has none of its own).
fn answer(status: StatusCode, body: Value) -> Sent {
    Sent {
        answer: Answer {
            status,
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        },
        pause: None,
    }
}

/// A copy of a whole-request answer, for one of its items.
fn copy(sent: &Sent) -> Sent {
    Sent {
        answer: Answer {
            status: sent.status,
            headers: sent.headers.clone(),
            body: sent.body.clone(),
        },
        pause: sent.pause,
    }
}

/// An item the answer says nothing about: retried.
fn missing(operation: &'static str) -> CrmError {
    CrmError::Protocol {
        operation,
        message: "the collections answer has no result for this record".to_owned(),
    }
}

/// True when the answer refuses the record's `EventWhoIds` as an unknown field.
fn refuses_event_who_ids(sent: &Sent) -> bool {
    sent.status == StatusCode::BAD_REQUEST
        && errors::rejects_field(&errors::parse_errors(&sent.body), EVENT_WHO_IDS)
}

impl SalesforceAdapter {
    /// Upserts `items` in one request, sends again (with `WhoId` only) those refused for
    /// `EventWhoIds`, and settles each item as the single path settles its answer.
    pub(super) async fn upsert_batch(
        &self,
        items: &[UpsertItem],
    ) -> Vec<Result<UpsertOutcome, CrmError>> {
        let shared = self.shares_activities();
        let all: Vec<&UpsertItem> = items.iter().collect();
        let mut answers = self.send_upserts(&all, shared).await;
        let refused: Vec<usize> = (0..items.len())
            .filter(|&index| items[index].links.is_some())
            .filter(|&index| matches!(&answers[index], Ok(sent) if refuses_event_who_ids(sent)))
            .collect();
        if shared && !refused.is_empty() {
            self.without_shared_activities();
            let again: Vec<&UpsertItem> = refused.iter().map(|&index| &items[index]).collect();
            let resent = self.send_upserts(&again, false).await;
            for (index, answer) in refused.into_iter().zip(resent) {
                answers[index] = answer;
            }
        }
        let mut results = Vec::with_capacity(items.len());
        for (item, answer) in items.iter().zip(answers) {
            let result = match answer {
                Ok(sent) => {
                    let links_sent = item.links.is_some();
                    let existing = ExistingRecord::None;
                    self.outcome(&item.record, existing, links_sent, sent).await
                }
                Err(error) => Err(error),
            };
            results.push(result);
        }
        results
    }

    /// One collections upsert of `items`: per item, the answer its single request would have
    /// had, or the failure of the whole request.
    async fn send_upserts(
        &self,
        items: &[&UpsertItem],
        shared_activities: bool,
    ) -> Vec<Result<Sent, CrmError>> {
        let records: Vec<Value> = items
            .iter()
            .map(|item| {
                let mut body = event_body(&item.record, item.links.as_ref(), shared_activities);
                if let Owner::User(id) = &item.owner {
                    body.insert("OwnerId".into(), json!(id));
                }
                body.insert("attributes".into(), json!({"type": "Event"}));
                let key = item.record.event_id.as_str();
                body.insert(self.external_id_field.clone(), json!(key));
                Value::Object(body)
            })
            .collect();
        let body = json!({"allOrNone": false, "records": records});
        let sent = self
            .session
            .send(UPSERT, |token| {
                let url = format!(
                    "{}/composite/sobjects/Event/{}",
                    token.api_base, self.external_id_field
                );
                self.session.http().patch(url).json(&body)
            })
            .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(error) => return all_fail(items.len(), error),
        };
        if sent.status == StatusCode::BAD_REQUEST {
            // The whole request refused (e.g. a field the org does not have): each item's own
            // refusal, settled as its single request's would be.
            return items.iter().map(|_| Ok(copy(&sent))).collect();
        }
        self.entries(UPSERT, items.len(), sent)
            .into_iter()
            .map(|entry| entry.map(|entry| entry.as_single_answer()))
            .collect()
    }

    /// Deletes the Events `ids` in one request; an Event already gone counts as deleted.
    pub(super) async fn delete_batch(&self, ids: &[String]) -> Vec<Result<(), CrmError>> {
        let list = ids.join(",");
        let sent = self
            .session
            .send(DELETE, |token| {
                let url = format!("{}/composite/sobjects", token.api_base);
                let query = [("ids", list.as_str()), ("allOrNone", "false")];
                self.session.http().delete(url).query(&query)
            })
            .await;
        let sent = match sent {
            Ok(sent) => sent,
            Err(error) => return all_fail(ids.len(), error),
        };
        let entries = self.entries(DELETE, ids.len(), sent).into_iter();
        entries
            .map(|entry| {
                let entry = entry?;
                let errors = entry.api_errors();
                let gone = errors::has_code(&errors, "NOT_FOUND")
                    || errors::has_code(&errors, "ENTITY_IS_DELETED");
                match entry.success || gone {
                    true => Ok(()),
                    false => Err(self.session.error(DELETE, &entry.as_single_answer())),
                }
            })
            .collect()
    }

    /// Each item's entry of a collections answer, in input order; a failed request reaches
    /// every item with its classification.
    fn entries(
        &self,
        operation: &'static str,
        count: usize,
        sent: Sent,
    ) -> Vec<Result<ItemResult, CrmError>> {
        if !sent.status.is_success() {
            return all_fail(count, self.session.error(operation, &sent));
        }
        let Ok(entries) = serde_json::from_slice::<Vec<ItemResult>>(&sent.body) else {
            let error = CrmError::Protocol {
                operation,
                message: "the collections answer is not an array of results".to_owned(),
            };
            return all_fail(count, error);
        };
        let mut entries = entries.into_iter();
        (0..count)
            .map(|_| entries.next().ok_or_else(|| missing(operation)))
            .collect()
    }
}

#[cfg(test)]
mod tests;
