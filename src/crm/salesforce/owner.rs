//! The Salesforce owner of an Event: the active User with the owner's email (SOQL, the email an
//! escaped literal) → `OwnerId`. The integration user needs permission to assign records to
//! others. An Event whose owner has no User keeps the owner Salesforce gave it (`OwnerId`
//! cannot be emptied).

use serde::Deserialize;

use super::SalesforceAdapter;
use super::soql;
use crate::crm::CrmError;
use crate::crm::contacts::normalize;
use crate::crm::owners::Owner;
use crate::record::MeetingRecord;

#[derive(Deserialize)]
struct UserPage {
    #[serde(default)]
    records: Vec<UserRecord>,
}

#[derive(Deserialize)]
struct UserRecord {
    #[serde(rename = "Id")]
    id: Option<String>,
    #[serde(rename = "Email")]
    email: Option<String>,
}

impl SalesforceAdapter {
    /// The Event's owner, from the cache or one User query.
    pub(super) async fn owner(&self, record: &MeetingRecord) -> Result<Owner, CrmError> {
        let email = record.owner_email.as_deref();
        self.owners
            .owner(email, |email| self.find_user(email))
            .await
    }

    /// The id of the active User with this email; `None` when there is none.
    async fn find_user(&self, email: String) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "salesforce owner";
        let query = soql::active_user_by_email(&email);
        let answer = self
            .session
            .send(OPERATION, |token| {
                let url = format!("{}/query", token.api_base);
                self.session.http().get(url).query(&[("q", query.as_str())])
            })
            .await?;
        if !answer.status.is_success() {
            return Err(self.session.error(OPERATION, &answer));
        }
        let page: UserPage =
            serde_json::from_slice(&answer.body).map_err(|error| CrmError::Protocol {
                operation: OPERATION,
                message: format!("the query answer is not a result page: {error}"),
            })?;
        Ok(page
            .records
            .into_iter()
            .filter(|user| user.email.as_deref().map(normalize) == Some(normalize(&email)))
            .find_map(|user| user.id))
    }
}
