//! The event id property as batch upserts need it (`crms.md`, "Batch writes and owners"): it
//! must exist with unique values (`hasUniqueValue`, settable only when it is created).
//!
//! - At run time the adapter asks once (`GET /crm/v3/properties/meetings/<property>`) before its
//!   first batch upsert; missing or not unique → a warning, and every meeting is written with
//!   single requests instead (the adapter keeps working, at more requests per meeting). A failed
//!   question is asked again by the next write.
//! - `calsync check` fails when the property is missing, or not unique while batching is on, and
//!   says exactly how to create it.

use reqwest::Method;
use serde::Deserialize;

use super::{Batches, HubSpotAdapter};
use crate::crm::CrmError;
use crate::crm::vendor::{NO_BODY, decode};

/// A property as the properties API describes it (only what calsync reads).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PropertyDefinition {
    #[serde(default)]
    has_unique_value: bool,
}

impl HubSpotAdapter {
    /// The event id property's definition: `None` when the portal has no such property.
    async fn id_property_definition(&self) -> Result<Option<PropertyDefinition>, CrmError> {
        const OPERATION: &str = "hubspot property read";
        let url = self.url(&[
            "crm",
            "v3",
            "properties",
            "meetings",
            &self.event_id_property,
        ]);
        let sent = self
            .client
            .exchange(OPERATION, Method::GET, &url, NO_BODY)
            .await?;
        if !self.client.exists(OPERATION, &sent)? {
            return Ok(None);
        }
        decode(OPERATION, &sent, "the property definition is unreadable").map(Some)
    }

    /// Whether meetings can be upserted in batches: the event id property exists with unique
    /// values. Asked once; a failed question is asked again by the next write.
    pub(super) async fn batch_upserts_usable(&self, batches: &Batches) -> Result<bool, CrmError> {
        let usable = batches
            .unique_property
            .get_or_try_init(|| async {
                let definition = self.id_property_definition().await?;
                let unique = definition.as_ref().is_some_and(|d| d.has_unique_value);
                if !unique {
                    tracing::warn!(
                        property = %self.event_id_property,
                        exists = definition.is_some(),
                        "The HubSpot event id property is missing or does not have unique values, so meetings cannot be upserted in batches; writing each meeting with its own requests. Run `calsync check` for how to set it up."
                    );
                }
                Ok::<bool, CrmError>(unique)
            })
            .await?;
        Ok(*usable)
    }
}

impl HubSpotAdapter {
    /// For `check`: the event id property must exist, and have unique values when batching.
    pub(super) async fn check_id_property(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "hubspot check";
        let property = &self.event_id_property;
        let create = format!(
            "create it in HubSpot under Settings > Properties > Meeting properties (internal name `{property}`, field type single-line text, with \"Require unique values for this property\" ticked), or with `POST /crm/v3/properties/meetings` and {{\"name\": \"{property}\", \"label\": \"calsync event id\", \"type\": \"string\", \"fieldType\": \"text\", \"groupName\": \"meetinginformation\", \"hasUniqueValue\": true}}"
        );
        let message = match self.id_property_definition().await? {
            None => format!(
                "the meeting property `{property}` (crm.event_id_property) does not exist: {create}"
            ),
            Some(definition) if !definition.has_unique_value && self.batches.is_some() => format!(
                "the meeting property `{property}` (crm.event_id_property) does not have unique values, which batch writes need (calsync would write each meeting with its own requests). Uniqueness can only be set when a property is created: {create} under a new name and set crm.event_id_property to it, or set crm.batch_size = 1"
            ),
            Some(_) => return Ok(()),
        };
        Err(CrmError::Protocol {
            operation: OPERATION,
            message,
        })
    }
}
