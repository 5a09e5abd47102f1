//! JSONL dry-run adapter (skeleton).

use async_trait::async_trait;

use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome};
use crate::config::JsonlCrmSettings;
use crate::record::MeetingRecord;

/// The JSONL dry run.
pub struct JsonlAdapter {
    target: String,
}

impl JsonlAdapter {
    /// An adapter for the configured endpoint.
    pub fn new(settings: &JsonlCrmSettings) -> Self {
        JsonlAdapter {
            target: format!("jsonl:{}", settings.path.display()),
        }
    }
}

#[async_trait]
impl CrmAdapter for JsonlAdapter {
    fn kind(&self) -> &'static str {
        "jsonl"
    }
    fn target(&self) -> &str {
        &self.target
    }
    async fn upsert(
        &self,
        _record: &MeetingRecord,
        _existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        todo!()
    }
    async fn soft_delete(&self, _id: &str, _crm_id: &str) -> Result<(), CrmError> {
        todo!()
    }
    async fn check(&self) -> Result<(), CrmError> {
        todo!()
    }
}
