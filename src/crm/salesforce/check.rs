//! `calsync check` for Salesforce: a token, then `describe` of Event, which proves the
//! credentials, the instance and the external id field (it must exist and be an External ID; a
//! field that is not Unique is logged). It also learns whether the org has Shared Activities
//! (`EventWhoIds`), so the first write need not be refused to find out.

use std::sync::atomic::Ordering;

use serde::Deserialize;

use super::{EVENT_WHO_IDS, SalesforceAdapter};
use crate::crm::{CrmError, probe};

/// `describe`'s field list (only what calsync uses).
#[derive(Deserialize)]
struct Describe {
    fields: Vec<DescribedField>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribedField {
    name: String,
    #[serde(default)]
    external_id: bool,
    #[serde(default)]
    unique: bool,
}

impl SalesforceAdapter {
    /// A token, then `describe` of Event: the external id field must exist and be an External
    /// ID (a field that is not Unique is logged: duplicates would then be possible). A failure
    /// names the URL it tried (the token endpoint, or the describe URL).
    pub(super) async fn check_event_description(&self) -> Result<(), CrmError> {
        const OPERATION: &str = "salesforce check";
        let tried = std::sync::Mutex::new(("POST", self.session.token_url().clone()));
        let named = |error: CrmError| {
            let (method, url) = tried
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            probe::naming(error, method, &url)
        };
        let answer = self
            .session
            .send(OPERATION, |token| {
                let url = format!("{}/sobjects/Event/describe", token.api_base);
                if let Ok(parsed) = url::Url::parse(&url) {
                    *tried
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = ("GET", parsed);
                }
                self.session.http().get(url)
            })
            .await
            .map_err(named)?;
        if !answer.status.is_success() {
            return Err(named(self.session.error(OPERATION, &answer)));
        }
        let describe: Describe =
            serde_json::from_slice(&answer.body).map_err(|_| CrmError::Protocol {
                operation: OPERATION,
                message: "the Event description has no field list".to_owned(),
            })?;
        if !describe
            .fields
            .iter()
            .any(|field| field.name == EVENT_WHO_IDS)
        {
            self.shared_activities.store(false, Ordering::SeqCst);
        }
        let field = &self.external_id_field;
        let problem = match describe
            .fields
            .iter()
            .find(|described| described.name.eq_ignore_ascii_case(field))
        {
            None => format!(
                "Event has no field {field} visible to the run-as user: create it (Text, External ID, Unique) and grant access to it"
            ),
            Some(described) if !described.external_id => {
                format!("the Event field {field} is not marked External ID")
            }
            Some(described) => {
                if !described.unique {
                    tracing::warn!(
                        crm.kind = "salesforce",
                        field = %field,
                        "The external id field is not Unique: Salesforce cannot prevent duplicate Events."
                    );
                }
                return Ok(());
            }
        };
        Err(CrmError::Protocol {
            operation: OPERATION,
            message: problem,
        })
    }
}
