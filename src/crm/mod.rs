//! CRM adapters: the [`CrmAdapter`] trait every target implements, its error type, and
//! [`build`], which turns the validated `[crm]` settings into an adapter.
//!
//! Adapters are stateless translators between a [`MeetingRecord`] and one vendor's API. They do
//! not decide *whether* to write (the worker does, from the sync state) and they never search
//! for duplicates on the hot path: the worker passes what it knows about the existing record.
//! Every failure is classified ([`CrmError::retry`]) from status and headers.

pub mod batch;
pub mod contacts;
pub mod hubspot;
pub mod jsonl;
pub mod limits;
pub mod owners;
pub mod pipedrive;
pub mod probe;
pub mod rest;
pub mod salesforce;
pub mod transport;
pub mod vendor;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{CrmSettings, Settings};
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;
use crate::retry::Retry;

/// What the worker knows about the record in the CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingRecord<'a> {
    /// Never created (as far as the sync state knows): create it.
    None,
    /// Created earlier with this CRM id: update it.
    Known(&'a CrmRecordId),
    /// A create was sent but its answer never recorded (crash, timeout): the record may exist.
    /// Adapters that can look it up by our id do so before creating.
    Uncertain,
}

/// The result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertOutcome {
    /// The CRM's id for the record.
    pub crm_record_id: CrmRecordId,
    /// True when the record was created (false: updated).
    pub created: bool,
}

/// A failed CRM call, classified.
#[derive(Debug, thiserror::Error)]
pub enum CrmError {
    /// The CRM answered with a non-success status.
    #[error("{operation} answered HTTP {status}: {message}")]
    Status {
        /// What was attempted (`rest create`, `hubspot search`, …).
        operation: &'static str,
        /// The HTTP status.
        status: u16,
        /// A short description from the response body (never request data or secrets).
        message: String,
        /// How to retry, from the status, headers and the vendor's signals.
        retry: Retry,
    },
    /// The request did not get an answer (timeout, connection refused, TLS).
    #[error("{operation} failed")]
    Transport {
        /// What was attempted.
        operation: &'static str,
        /// Why no answer came.
        #[source]
        source: reqwest::Error,
    },
    /// The CRM answered with a redirect, which calsync never follows: the request was not
    /// performed. Permanent for a write, retried for a read ([`crate::outbound::redirect_retry`]).
    #[error("{operation} {redirect}")]
    Redirected {
        /// What was attempted.
        operation: &'static str,
        /// The redirect and where it pointed.
        redirect: crate::outbound::Redirect,
        /// Permanent for a write, retried for a read.
        retry: Retry,
    },
    /// The CRM answered success with a body over [`crate::outbound::MAX_BODY_BYTES`] (read no
    /// further than the cap): retried.
    #[error("{operation} answered with {oversize}")]
    TooLarge {
        /// What was attempted.
        operation: &'static str,
        /// How large the body was (at least).
        oversize: crate::outbound::Oversize,
    },
    /// The CRM answered success with a body calsync cannot use.
    #[error("{operation} answered with an unexpected body: {message}")]
    Protocol {
        /// What was attempted.
        operation: &'static str,
        /// What is wrong with the body.
        message: String,
    },
    /// The target is paused (throttled, or failing for everyone) for longer than a request
    /// should wait in place: nothing was sent.
    #[error("{operation} held back: calsync is pausing its requests to the CRM for another {}s", wait.as_secs())]
    HeldBack {
        /// What was held back.
        operation: &'static str,
        /// How much longer the target is paused.
        wait: std::time::Duration,
    },
    /// A failure shared by concurrent callers (e.g. one contact lookup awaited by several jobs).
    #[error(transparent)]
    Shared(std::sync::Arc<CrmError>),
    /// A local target (the JSONL dry run) failed.
    #[error("{operation} failed")]
    Io {
        /// What was attempted.
        operation: &'static str,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl CrmError {
    /// What the worker should do about this failure.
    pub fn retry(&self) -> Retry {
        match self {
            CrmError::Status { retry, .. } | CrmError::Redirected { retry, .. } => *retry,
            CrmError::TooLarge { .. } => Retry::After(None),
            CrmError::Transport { source, .. } => crate::retry::classify_transport(source),
            CrmError::Protocol { .. } => Retry::After(None),
            CrmError::HeldBack { wait, .. } => Retry::After(Some(*wait)),
            CrmError::Io { .. } => Retry::After(None),
            CrmError::Shared(error) => error.retry(),
        }
    }
}

/// One CRM target.
#[async_trait]
pub trait CrmAdapter: Send + Sync + 'static {
    /// The adapter kind (`rest`, `jsonl`, `hubspot`, …), for logs and metrics.
    fn kind(&self) -> &'static str;

    /// The target's identity (kind and endpoint) that keys the sync state, so pointing calsync
    /// at another CRM never reuses record ids from the previous one.
    fn target(&self) -> &TargetId;

    /// Creates or updates the record.
    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError>;

    /// Soft-deletes the record. A record already gone is success.
    async fn soft_delete(
        &self,
        event_id: &EventId,
        crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError>;

    /// Verifies the credentials and endpoint with a harmless authenticated read of the object
    /// the adapter writes, changing nothing (no record, no file). A failure names the URL it
    /// tried; an endpoint that is not there (404, a redirect) is an error, never a pass.
    async fn check(&self) -> Result<(), CrmError>;

    /// How many writes this adapter can send in one request: 1 for adapters that write one
    /// record per request; a batching adapter returns its batch size, so callers keep enough
    /// writes in flight to fill a batch.
    fn batch_capacity(&self) -> usize {
        1
    }

    /// Where a batching adapter counts the jobs running against it, so a batch goes as soon
    /// as none of them can still join it (`batch`'s module `gate`). The worker pool and the
    /// backfill hold [`batch::BatchGate::job_started`] for each job they run. `None` for
    /// adapters that write one record per request.
    fn batch_gate(&self) -> Option<std::sync::Arc<batch::BatchGate>> {
        None
    }
}

/// Builds the adapter the settings describe; HTTP adapters send through `transport`, and every
/// adapter takes its time from the transport's clock.
pub fn build(
    settings: &Settings,
    transport: transport::CrmTransport,
) -> Result<Arc<dyn CrmAdapter>, CrmError> {
    match &settings.crm {
        CrmSettings::Rest(rest) => Ok(Arc::new(rest::RestAdapter::new(rest, transport))),
        CrmSettings::Jsonl(jsonl) => Ok(Arc::new(
            jsonl::JsonlAdapter::new(jsonl).with_clock(transport.clock()),
        )),
        CrmSettings::Salesforce(salesforce) => Ok(salesforce::SalesforceAdapter::shared(
            salesforce,
            &settings.sync.internal_domains,
            transport,
        )),
        CrmSettings::HubSpot(hubspot) => Ok(hubspot::HubSpotAdapter::shared(
            hubspot,
            &settings.sync.internal_domains,
            transport,
        )),
        CrmSettings::Pipedrive(pipedrive) => Ok(Arc::new(pipedrive::PipedriveAdapter::new(
            pipedrive,
            &settings.sync.internal_domains,
            transport,
        ))),
    }
}
