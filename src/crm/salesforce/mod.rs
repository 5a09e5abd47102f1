//! The Salesforce adapter (`kind = "salesforce"`): one Event per calendar event, upserted by
//! our event id held in an External ID field (`crm.external_id_field`).
//!
//! The contract (`crms.md`, "Salesforce"), under `{instance_url}/services/data/{api_version}`:
//! - upsert: `PATCH /sobjects/Event/{field}/{url-encoded event id}` with the fields, not the key
//!   → 201 `{id, created: true}`, 200 `{id, created: false}`, 204 without a body before v46
//!   (the id is then the known one, or read back with `GET` by the external id), 300 when
//!   several Events hold the id (Permanent: duplicates must be merged by hand);
//! - soft-delete: `DELETE /sobjects/Event/{id}` (Recycle Bin, 15 days); 404 `NOT_FOUND` or
//!   `ENTITY_IS_DELETED` means already gone;
//! - check: a token and `GET /sobjects/Event/describe`, which also proves the external id field
//!   exists and is an External ID.
//!
//! Invariants: the upsert is keyed by our id, so a retried, duplicated or uncertain create can
//! never make a second Event (when the field is Unique) and [`ExistingRecord`] only supplies the
//! id for a 204; the body is `fields::event_body`; links come from `who::Directory`. When
//! the org answers `INVALID_FIELD` for `EventWhoIds` (Shared Activities off), the write is sent
//! again with `WhoId` only and the adapter remembers it for the life of the process (logged
//! once). A write refused because a linked contact or lead no longer exists (deleted or merged
//! since its cached lookup) is retried after the lookup expires instead of dead-lettered. The
//! target is `salesforce:{configured instance_url}`.

mod api;
mod check;
mod collections;
mod errors;
mod fields;
mod owner;
mod session;
mod soql;
mod who;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::StatusCode;
use serde::Deserialize;

use self::api::Token;
use self::collections::{Batches, UpsertItem, batchable_id};
use self::fields::{Links, event_body};
use self::session::Session;
use self::who::Directory;
use super::batch::{BatchGate, BatchSettings};
use super::contacts::LOOKUP_TTL;
use super::owners::{Owner, OwnerDirectory};
use super::transport::CrmTransport;
use super::vendor::Sent;
use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome};
use crate::config::SalesforceCrmSettings;
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;
use crate::retry::Retry;

pub use self::collections::MAX_BATCH;
pub use self::errors::{LIMIT_PAUSE_INITIAL, LIMIT_PAUSE_MAX};
pub use self::fields::MAX_EVENT_DAYS;

/// Characters left as they are in a path segment; everything else is percent-encoded.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// The Shared Activities field that lists every contact of an event.
const EVENT_WHO_IDS: &str = "EventWhoIds";

/// Salesforce Events.
pub struct SalesforceAdapter {
    session: Session,
    directory: Option<Directory>,
    external_id_field: String,
    /// False once the org said `EventWhoIds` does not exist.
    shared_activities: AtomicBool,
    owners: OwnerDirectory,
    target: TargetId,
    /// Collections batchers, when `crm.batch_size` > 1 and the API version has them.
    batches: Option<Batches>,
}

/// An upsert's or a read's answer (only what calsync uses).
#[derive(Deserialize)]
struct RecordAnswer {
    #[serde(alias = "Id")]
    id: Option<String>,
    created: Option<bool>,
}

impl SalesforceAdapter {
    /// An adapter for the configured org; `internal_domains` are never linked. It batches its
    /// writes through sObject Collections when `crm.batch_size` > 1 (the batchers hold it
    /// weakly).
    pub fn shared(
        settings: &SalesforceCrmSettings,
        internal_domains: &[String],
        transport: CrmTransport,
    ) -> Arc<Self> {
        let batching = BatchSettings {
            linger: settings.batch_linger,
            max_items: settings.batch_size.min(MAX_BATCH),
        };
        Arc::new_cyclic(|adapter| SalesforceAdapter {
            batches: Batches::new(adapter, batching, &settings.api_version),
            ..Self::unbatched(settings, internal_domains, transport)
        })
    }

    /// An adapter writing each Event with its own request.
    fn unbatched(
        settings: &SalesforceCrmSettings,
        internal_domains: &[String],
        transport: CrmTransport,
    ) -> Self {
        let linking = settings.contacts;
        let owners =
            OwnerDirectory::new(settings.default_owner.clone(), transport.metrics().clone());
        SalesforceAdapter {
            session: Session::new(settings, transport),
            directory: linking
                .link_contacts
                .then(|| Directory::new(internal_domains, linking.create_missing_contacts)),
            external_id_field: settings.external_id_field.clone(),
            shared_activities: AtomicBool::new(true),
            owners,
            batches: None,
            target: TargetId::new(format!(
                "salesforce:{}",
                settings.instance_url.as_str().trim_end_matches('/')
            )),
        }
    }

    /// `{api}/sobjects/Event/{field}/{value}`.
    fn by_external_id(&self, token: &Token, external_event_id: &str) -> String {
        format!(
            "{}/sobjects/Event/{}/{}",
            token.api_base,
            self.external_id_field,
            utf8_percent_encode(external_event_id, SEGMENT)
        )
    }

    /// The upsert, sent again without `EventWhoIds` when the org has no Shared Activities.
    async fn write(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        links: Option<&Links>,
    ) -> Result<Sent, CrmError> {
        let shared = self.shares_activities();
        let answer = self.patch(record, owner, links, shared).await?;
        let refused = answer.status == StatusCode::BAD_REQUEST
            && errors::rejects_field(&errors::parse_errors(&answer.body), EVENT_WHO_IDS);
        if !(shared && links.is_some() && refused) {
            return Ok(answer);
        }
        self.without_shared_activities();
        self.patch(record, owner, links, false).await
    }

    /// Whether `EventWhoIds` may be sent (not yet refused by the org).
    fn shares_activities(&self) -> bool {
        self.shared_activities.load(Ordering::SeqCst)
    }

    /// Remembers that the org has no `EventWhoIds` (logged the first time).
    fn without_shared_activities(&self) {
        if self.shared_activities.swap(false, Ordering::SeqCst) {
            tracing::warn!(
                crm.kind = "salesforce",
                "Salesforce has no EventWhoIds field (Shared Activities is off): events are linked to one contact or lead through WhoId."
            );
        }
    }

    async fn patch(
        &self,
        record: &MeetingRecord,
        owner: &Owner,
        links: Option<&Links>,
        shared_activities: bool,
    ) -> Result<Sent, CrmError> {
        let mut body = event_body(record, links, shared_activities);
        // An owner without a Salesforce User keeps the Event's owner: OwnerId cannot be empty.
        if let Owner::User(id) = owner {
            body.insert("OwnerId".into(), serde_json::json!(id));
        }
        self.session
            .send("salesforce upsert", |token| {
                let url = self.by_external_id(token, record.event_id.as_str());
                self.session.http().patch(url).json(&body)
            })
            .await
    }

    /// The outcome of the upsert's answer.
    async fn outcome(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
        links_sent: bool,
        answer: Sent,
    ) -> Result<UpsertOutcome, CrmError> {
        const OPERATION: &str = "salesforce upsert";
        match answer.status.as_u16() {
            200 | 201 => {
                let parsed: RecordAnswer =
                    serde_json::from_slice(&answer.body).map_err(|_| CrmError::Protocol {
                        operation: OPERATION,
                        message: "the answer is not a record result".to_owned(),
                    })?;
                let created = answer.status == StatusCode::CREATED || parsed.created == Some(true);
                let crm_record_id = match parsed.id.filter(|id| !id.is_empty()) {
                    Some(id) => id,
                    None => self.read_id(record.event_id.as_str()).await?,
                };
                Ok(UpsertOutcome {
                    crm_record_id: CrmRecordId::new(crm_record_id),
                    created,
                })
            }
            204 => {
                let crm_record_id = match existing {
                    ExistingRecord::Known(id) => id.clone(),
                    ExistingRecord::None | ExistingRecord::Uncertain => {
                        CrmRecordId::new(self.read_id(record.event_id.as_str()).await?)
                    }
                };
                Ok(UpsertOutcome {
                    crm_record_id,
                    created: false,
                })
            }
            300 => Err(self.duplicates(OPERATION)),
            _ => {
                let error = self.session.error(OPERATION, &answer);
                let errors = errors::parse_errors(&answer.body);
                match links_sent && errors::concerns_links(&errors) {
                    true => Err(stale_link(error)),
                    false => Err(error),
                }
            }
        }
    }

    /// `GET` the Event's id by our id (after a 204, which carries none).
    async fn read_id(&self, external_event_id: &str) -> Result<String, CrmError> {
        const OPERATION: &str = "salesforce lookup";
        let answer = self
            .session
            .send(OPERATION, |token| {
                let url = self.by_external_id(token, external_event_id);
                self.session.http().get(url).query(&[("fields", "Id")])
            })
            .await?;
        match answer.status.as_u16() {
            200 => serde_json::from_slice::<RecordAnswer>(&answer.body)
                .ok()
                .and_then(|parsed| parsed.id)
                .ok_or_else(|| CrmError::Protocol {
                    operation: OPERATION,
                    message: "the Event has no Id".to_owned(),
                }),
            300 => Err(self.duplicates(OPERATION)),
            _ => Err(self.session.error(OPERATION, &answer)),
        }
    }

    fn duplicates(&self, operation: &'static str) -> CrmError {
        let field = &self.external_id_field;
        CrmError::Status {
            operation,
            status: 300,
            message: format!(
                "several Events have the same {field}: duplicates of the external id exist. \
                 Merge or delete the extra Events and make {field} Unique."
            ),
            retry: Retry::Permanent,
        }
    }
}

/// A refused link (a cached contact or lead deleted or merged since): retried once the cached
/// lookup has expired, instead of dead-lettering the meeting.
fn stale_link(error: CrmError) -> CrmError {
    match error {
        CrmError::Status {
            operation,
            status,
            message,
            retry: Retry::Permanent,
        } => CrmError::Status {
            operation,
            status,
            message: format!(
                "{message} (a linked contact or lead was probably deleted or merged; retrying once its cached lookup expires)"
            ),
            retry: Retry::After(Some(LOOKUP_TTL)),
        },
        other => other,
    }
}

#[async_trait]
impl CrmAdapter for SalesforceAdapter {
    fn kind(&self) -> &'static str {
        "salesforce"
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
        let links = match &self.directory {
            Some(directory) => Some(directory.links(&self.session, record).await?),
            None => None,
        };
        if let Some(batches) = &self.batches {
            let item = UpsertItem {
                record: record.clone(),
                owner,
                links,
            };
            return batches.upserts.submit(item).await;
        }
        let answer = self.write(record, &owner, links.as_ref()).await?;
        self.outcome(record, existing, links.is_some(), answer)
            .await
    }

    async fn soft_delete(
        &self,
        event_id: &EventId,
        crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError> {
        const OPERATION: &str = "salesforce delete";
        if let Some(batches) = &self.batches
            && batchable_id(crm_record_id.as_str())
        {
            let id = crm_record_id.as_str().to_owned();
            return batches.deletes.submit(id).await;
        }
        let answer = self
            .session
            .send(OPERATION, |token| {
                let url = match crm_record_id.as_str().trim() {
                    "" => self.by_external_id(token, event_id.as_str()),
                    id => format!(
                        "{}/sobjects/Event/{}",
                        token.api_base,
                        utf8_percent_encode(id, SEGMENT)
                    ),
                };
                self.session.http().delete(url)
            })
            .await?;
        let gone = || {
            let errors = errors::parse_errors(&answer.body);
            answer.status == StatusCode::NOT_FOUND || errors::has_code(&errors, "ENTITY_IS_DELETED")
        };
        if answer.status.is_success() || gone() {
            Ok(())
        } else {
            Err(self.session.error(OPERATION, &answer))
        }
    }

    /// A token, then `describe` of Event (module `check`).
    async fn check(&self) -> Result<(), CrmError> {
        self.check_event_description().await
    }

    /// The batch size while writes are batched (`crm.batch_size`, API v46.0+), else 1.
    fn batch_capacity(&self) -> usize {
        match &self.batches {
            Some(batches) => batches.upserts.settings().max_items,
            None => 1,
        }
    }

    fn batch_gate(&self) -> Option<Arc<BatchGate>> {
        self.batches.as_ref().map(|batches| batches.gate.clone())
    }
}
