//! Batch updates of meetings calsync already wrote (`crms.md`, "Batch writes and owners"):
//! `POST …/meetings/batch/update` with each meeting's HubSpot id, up to
//! [`MAX_BATCH`](super::batch::MAX_BATCH) inputs — the batched form of the single path's
//! `PATCH …/meetings/{id}`.
//!
//! Invariants, as on the single path:
//! - a known meeting is written by its id, never matched by the event id property (one written
//!   before that property was unique may not carry it), so an update never creates a second
//!   meeting;
//! - a meeting deleted or archived in HubSpot since is created again: when HubSpot answers the
//!   item `OBJECT_NOT_FOUND` it is created with the single create; when it refuses the whole
//!   request (HubSpot answers a batch naming a missing id with a 404 for all of it, or a 400 for
//!   an invalid input), each item takes the single path (`PATCH`, created again on 404), so one
//!   bad or gone meeting never fails its batch-mates;
//! - any other failure of the request (429, 5xx, transport) reaches every item with its
//!   classification.

use reqwest::Method;
use serde_json::{Value, json};

use super::batch::{UPDATE, UpsertAnswer, UpsertItem, missing};
use super::{HubSpotAdapter, is_refusal, meeting_properties};
use crate::crm::batch::all_fail;
use crate::crm::{CrmError, UpsertOutcome};

impl HubSpotAdapter {
    /// Updates the known meetings `items` in one request (none when empty); see the module
    /// documentation for meetings that are gone and refused requests. Contact links are left
    /// to the caller.
    pub(super) async fn update_known(
        &self,
        items: &[&UpsertItem],
    ) -> Vec<Result<UpsertOutcome, CrmError>> {
        if items.is_empty() {
            return Vec::new();
        }
        match self.send_updates(items).await {
            Ok(answer) => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    results.push(self.settle_update(item, &answer).await);
                }
                results
            }
            Err(error) if is_refusal(&error) => {
                let mut results = Vec::with_capacity(items.len());
                for item in items {
                    let id = known_id(item);
                    let alone = self.update_or_create(&item.record, &item.owner, id, None);
                    results.push(alone.await);
                }
                results
            }
            Err(error) => all_fail(items.len(), error),
        }
    }

    /// One item's answer: updated, created again (gone in HubSpot), or its own error.
    async fn settle_update(
        &self,
        item: &UpsertItem,
        answer: &UpsertAnswer,
    ) -> Result<UpsertOutcome, CrmError> {
        let id = known_id(item);
        if answer.results.iter().any(|result| result.id == id) {
            return Ok(UpsertOutcome {
                crm_record_id: id.to_owned().into(),
                created: false,
            });
        }
        match answer.errors.iter().find(|error| error.names(id)) {
            Some(error) if error.is_not_found() => {
                tracing::info!(
                    "The HubSpot meeting was deleted or archived in HubSpot; creating it again."
                );
                self.create(&item.record, &item.owner, None).await
            }
            Some(error) => Err(error.to_error(UPDATE)),
            None => Err(missing(UPDATE)),
        }
    }

    /// One `batch/update` request for `items`.
    async fn send_updates(&self, items: &[&UpsertItem]) -> Result<UpsertAnswer, CrmError> {
        let inputs: Vec<Value> = items
            .iter()
            .map(|item| {
                json!({
                    "id": known_id(item),
                    "objectWriteTraceId": item.record.event_id.as_str(),
                    "properties": meeting_properties(&item.record, &self.event_id_property, &item.owner),
                })
            })
            .collect();
        let url = self.meetings_url(&["batch", "update"]);
        let body = json!({ "inputs": inputs });
        let sent = self
            .client
            .exchange(UPDATE, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(UPDATE, sent)?;
        crate::crm::vendor::decode(UPDATE, &sent, "the batch answer has no results")
    }
}

/// The HubSpot id of a known meeting's item (empty for a new one, which never comes here).
fn known_id(item: &UpsertItem) -> &str {
    item.known.as_ref().map_or("", |id| id.as_str())
}
