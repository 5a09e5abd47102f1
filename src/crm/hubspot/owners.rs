//! The HubSpot owner of a meeting: `GET /crm/owners/2026-03?email=<email>` (the owners spec
//! `owners-2026-03.json`) → the owner `id`, written as `hubspot_owner_id`.
//!
//! HubSpot filters by email; calsync still takes only an owner whose email matches exactly
//! (trimmed, without case), so a loose match never makes someone else the owner.

use reqwest::Method;
use serde::Deserialize;

use super::HubSpotAdapter;
use crate::crm::CrmError;
use crate::crm::owners::Owner;
use crate::crm::vendor::{NO_BODY, decode};
use crate::record::MeetingRecord;

/// The owners collection.
const OWNERS: &[&str] = &["crm", "owners", "2026-03"];

#[derive(Debug, Deserialize)]
struct OwnerPage {
    results: Vec<OwnerEntry>,
}

#[derive(Debug, Deserialize)]
struct OwnerEntry {
    id: String,
    email: Option<String>,
}

impl HubSpotAdapter {
    /// The meeting's owner, from the cache or one owners lookup.
    pub(super) async fn owner(&self, record: &MeetingRecord) -> Result<Owner, CrmError> {
        let email = record.owner_email.as_deref();
        self.owners
            .owner(email, |email| self.find_owner(email))
            .await
    }

    /// The id of the owner with this email; `None` when HubSpot has none.
    async fn find_owner(&self, email: String) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "hubspot owner";
        let mut url = self.url(OWNERS);
        url.query_pairs_mut()
            .append_pair("email", &email)
            .append_pair("limit", "10");
        let sent = self
            .client
            .exchange(OPERATION, Method::GET, &url, NO_BODY)
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let page: OwnerPage = decode(OPERATION, &sent, "the owners answer has no results")?;
        Ok(page
            .results
            .into_iter()
            .find(|owner| {
                owner
                    .email
                    .as_deref()
                    .is_some_and(|found| found.trim().eq_ignore_ascii_case(&email))
            })
            .map(|owner| owner.id))
    }
}
