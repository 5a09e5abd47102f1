//! The Pipedrive owner of an activity: `GET /api/v1/users/find?term=<email>&search_by_email=1`
//! (API v1, `pipedrive-v1.yaml`; v2 has no users endpoint) → the user's `id`, written as the
//! activity's `owner_id`.
//!
//! Pipedrive's search is not exact: calsync takes only a user whose email matches exactly
//! (trimmed, without case). An activity whose owner has no Pipedrive user keeps the owner
//! Pipedrive gave it (the API token's user), since `owner_id` cannot be emptied.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use url::Url;

use super::{Envelope, PipedriveAdapter};
use crate::crm::CrmError;
use crate::crm::owners::Owner;
use crate::crm::vendor::{NO_BODY, decode};
use crate::record::MeetingRecord;

#[derive(Debug, Deserialize)]
struct User {
    id: i64,
    email: Option<String>,
}

impl PipedriveAdapter {
    /// The meeting's owner, from the cache or one users search.
    pub(super) async fn owner(&self, record: &MeetingRecord) -> Result<Owner, CrmError> {
        let email = record.owner_email.as_deref();
        self.owners
            .owner(email, |email| self.find_user(email))
            .await
    }

    /// `{base_url}/api/v1/users/find`.
    fn users_find_url(&self) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        let prefix = url.path().trim_end_matches('/').to_owned();
        let prefix = prefix.strip_suffix("/api/v2").unwrap_or(&prefix).to_owned();
        url.set_path(&prefix);
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(["api", "v1", "users", "find"]);
        }
        url
    }

    /// The id of the user with this email; `None` when Pipedrive has none.
    async fn find_user(&self, email: String) -> Result<Option<String>, CrmError> {
        const OPERATION: &str = "pipedrive owner";
        let mut url = self.users_find_url();
        url.query_pairs_mut()
            .append_pair("term", &email)
            .append_pair("search_by_email", "1");
        let sent = self
            .client
            .exchange(OPERATION, Method::GET, &url, NO_BODY)
            .await?;
        let sent = self.client.success(OPERATION, sent)?;
        let found: Envelope<Vec<User>> =
            decode(OPERATION, &sent, "the users answer is unreadable")?;
        Ok(found
            .data
            .unwrap_or_default()
            .into_iter()
            .find(|user| {
                user.email
                    .as_deref()
                    .is_some_and(|found| found.trim().eq_ignore_ascii_case(&email))
            })
            .map(|user| user.id.to_string()))
    }
}

/// Sets the activity body's `owner_id` when the owner is a Pipedrive user.
pub fn set_owner(body: &mut Value, owner: &Owner) {
    if let Owner::User(id) = owner {
        match id.trim().parse::<i64>() {
            Ok(id) => body["owner_id"] = json!(id),
            Err(_) => tracing::warn!(
                "crm.default_owner is not a Pipedrive user id (a number); the owner is left unset."
            ),
        }
    }
}
