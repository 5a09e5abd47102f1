//! Contact links of a batch of meetings (`crms.md`, "Batch writes and owners"): read for the
//! updated meetings in one `POST /crm/v4/associations/meetings/contacts/batch/read`, the missing
//! ones created in one `…/batch/create` (HubSpot-defined type 200) and the stale unlabelled ones
//! removed in one `…/batch/archive`; a meeting created by the batch has no links yet, so it is
//! not read. When HubSpot refuses a link batch (e.g. a cached contact was deleted since), each
//! meeting's links are brought in line one by one, as the single path does.
//!
//! Invariants (as on the single path): calsync owns the meeting's unlabelled links and leaves a
//! labelled one alone. A failure fails the items it concerns; their upsert is repeated on retry,
//! which is harmless (it is keyed by the event id). Known limit: the batch read returns at most
//! HubSpot's first page of links per meeting (hundreds), which a meeting's attendees never reach.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::batch::{BatchErrors, LINK_ARCHIVE, LINK_CREATE, LINK_READ, LINKS, UpsertItem};
use super::contacts::Link;
use super::{HubSpotAdapter, MEETING_TO_CONTACT, is_refusal};
use crate::crm::vendor::decode;
use crate::crm::{CrmError, UpsertOutcome};

/// A batch link read answer.
#[derive(Debug, Deserialize)]
struct LinkReadAnswer {
    #[serde(default)]
    results: Vec<LinkRead>,
}

#[derive(Debug, Deserialize)]
struct LinkRead {
    from: ObjectRef,
    #[serde(default)]
    to: Vec<Link>,
}

#[derive(Debug, Deserialize)]
struct ObjectRef {
    id: String,
}

impl HubSpotAdapter {
    /// Brings the contact links of the meetings written in `results` in line with their items'
    /// contacts; a failure fails the items it concerns (their upsert is repeated on retry, which
    /// is harmless).
    pub(super) async fn link_batch(
        &self,
        items: &[UpsertItem],
        results: &mut [Result<UpsertOutcome, CrmError>],
    ) {
        let written: Vec<(usize, String, bool, &[String])> = items
            .iter()
            .zip(results.iter())
            .enumerate()
            .filter_map(|(index, (item, result))| {
                let outcome = result.as_ref().ok()?;
                let wanted = item.contact_ids.as_deref()?;
                Some((
                    index,
                    outcome.crm_record_id.as_str().to_owned(),
                    outcome.created,
                    wanted,
                ))
            })
            .collect();
        let updated: Vec<&str> = written
            .iter()
            .filter(|(_, _, created, _)| !created)
            .map(|(_, id, _, _)| id.as_str())
            .collect();
        let current = match self.read_links(&updated).await {
            Ok(current) => current,
            Err(error) => {
                let shared = Arc::new(error);
                for (index, ..) in &written {
                    results[*index] = Err(CrmError::Shared(shared.clone()));
                }
                return;
            }
        };
        let mut create = Vec::new();
        let mut archive = Vec::new();
        for (_, id, _, wanted) in &written {
            let links = current.get(id.as_str());
            let has = |contact: &String| {
                links.is_some_and(|links| {
                    links
                        .iter()
                        .any(|link| link.contact_id().as_ref() == Some(contact))
                })
            };
            for contact in wanted.iter().filter(|contact| !has(contact)) {
                create.push(json!({
                    "from": {"id": id},
                    "to": {"id": contact},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": MEETING_TO_CONTACT}]
                }));
            }
            let stale: Vec<Value> = links
                .into_iter()
                .flatten()
                .filter(|link| !link.is_labelled())
                .filter_map(Link::contact_id)
                .filter(|contact| !wanted.contains(contact))
                .map(|contact| json!({"id": contact}))
                .collect();
            if !stale.is_empty() {
                archive.push(json!({"from": {"id": id}, "to": stale}));
            }
        }
        let mut outcome = self.send_links(LINK_CREATE, "create", create).await;
        if outcome.is_ok() {
            outcome = self.send_links(LINK_ARCHIVE, "archive", archive).await;
        }
        match outcome {
            Ok(()) => {}
            Err(error) if is_refusal(&error) => {
                tracing::warn!(
                    error = %crate::cause::Chain(&error),
                    "HubSpot refused a batch of contact links; linking these meetings one by one."
                );
                for (index, id, _, wanted) in &written {
                    if let Err(error) = self.sync_links(id, wanted).await {
                        results[*index] = Err(error);
                    }
                }
            }
            Err(error) => {
                let shared = Arc::new(error);
                for (index, ..) in &written {
                    results[*index] = Err(CrmError::Shared(shared.clone()));
                }
            }
        }
    }

    /// The current contact links of the meetings `ids` (one request; none for no meetings).
    async fn read_links(&self, ids: &[&str]) -> Result<HashMap<String, Vec<Link>>, CrmError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let unique: HashSet<&str> = ids.iter().copied().collect();
        let inputs: Vec<Value> = unique.iter().map(|id| json!({"id": id})).collect();
        let segments: Vec<&str> = LINKS.iter().copied().chain(["read"]).collect();
        let url = self.url(&segments);
        let body = json!({ "inputs": inputs });
        let sent = self
            .client
            .exchange(LINK_READ, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(LINK_READ, sent)?;
        let answer: LinkReadAnswer = decode(LINK_READ, &sent, "the link answer has no results")?;
        Ok(answer
            .results
            .into_iter()
            .map(|read| (read.from.id, read.to))
            .collect())
    }

    /// One association batch request (`create` or `archive`) with `inputs`; none when empty.
    async fn send_links(
        &self,
        operation: &'static str,
        action: &str,
        inputs: Vec<Value>,
    ) -> Result<(), CrmError> {
        if inputs.is_empty() {
            return Ok(());
        }
        let segments: Vec<&str> = LINKS.iter().copied().chain([action]).collect();
        let url = self.url(&segments);
        let body = json!({ "inputs": inputs });
        let sent = self
            .client
            .exchange(operation, Method::POST, &url, Some(&body))
            .await?;
        let sent = self.client.success(operation, sent)?;
        if sent.status.as_u16() == 207 {
            let answer: BatchErrors = decode(operation, &sent, "the link answer is unreadable")?;
            if let Some(error) = answer.errors.first() {
                return Err(error.to_error(operation));
            }
        }
        Ok(())
    }
}
