//! Generic REST adapter (skeleton).

use async_trait::async_trait;

use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome};
use crate::config::RestCrmSettings;
use crate::record::MeetingRecord;

/// The generic REST CRM.
pub struct RestAdapter {
    target: String,
}

impl RestAdapter {
    /// An adapter for the configured endpoint.
    pub fn new(settings: &RestCrmSettings, _http: reqwest::Client) -> Self {
        RestAdapter {
            target: format!("rest:{}", settings.base_url),
        }
    }
}

#[async_trait]
impl CrmAdapter for RestAdapter {
    fn kind(&self) -> &'static str {
        "rest"
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
