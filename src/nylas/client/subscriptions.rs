//! Managing webhook subscriptions (`calsync webhook create|list|rotate-secret|delete`).
//!
//! Invariants: the webhook secret, returned only by create and rotate-secret, is held as a
//! [`SecretString`] from the moment it is decoded (never in a plain `String`, never in `Debug`);
//! rotation uses exactly `POST /v3/webhooks/rotate-secret/{id}`.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::endpoint::{
    CREATE_SUBSCRIPTION, DELETE_SUBSCRIPTION, LIST_SUBSCRIPTIONS, ROTATE_SUBSCRIPTION_SECRET,
};
use super::{Call, Data, NO_BODY, NylasClient, NylasError};
use crate::nylas::lenient;

/// A subscription to create (`POST /v3/webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewSubscription {
    /// E.g. `event.created`, `event.updated`, `event.deleted`, `grant.expired`.
    pub trigger_types: Vec<String>,
    /// The HTTPS URL Nylas posts notifications to.
    pub webhook_url: String,
    /// Shown in the Nylas dashboard.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Who Nylas emails when the webhook is failing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notification_email_addresses: Vec<String>,
}

/// A subscription as listed (`GET /v3/webhooks`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Subscription {
    /// The webhook's id.
    pub id: String,
    /// `webhook_url`.
    #[serde(rename = "webhook_url", default, deserialize_with = "lenient::string")]
    pub url: Option<String>,
    /// `active | pause | failing | failed`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// The notification types it delivers.
    #[serde(default, deserialize_with = "lenient::list")]
    pub trigger_types: Vec<String>,
    /// Shown in the Nylas dashboard.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
    /// Who Nylas emails when the webhook is failing.
    #[serde(default, deserialize_with = "lenient::list")]
    pub notification_email_addresses: Vec<String>,
}

/// A subscription just created or whose secret was just rotated: the only answers that carry
/// the secret.
#[derive(Debug, Deserialize)]
pub struct CreatedSubscription {
    /// The webhook's id.
    pub id: String,
    /// The HMAC key of `X-Nylas-Signature`. Store it now: Nylas never shows it again.
    pub webhook_secret: SecretString,
    /// `webhook_url`.
    #[serde(rename = "webhook_url", default, deserialize_with = "lenient::string")]
    pub url: Option<String>,
    /// `active | pause | failing | failed`, or anything else.
    #[serde(default, deserialize_with = "lenient::string")]
    pub status: Option<String>,
    /// The notification types it delivers.
    #[serde(default, deserialize_with = "lenient::list")]
    pub trigger_types: Vec<String>,
    /// Shown in the Nylas dashboard.
    #[serde(default, deserialize_with = "lenient::string")]
    pub description: Option<String>,
}

/// `{data: [...]}` of the list answer, elements read leniently.
#[derive(Deserialize)]
struct SubscriptionList {
    #[serde(deserialize_with = "lenient::list")]
    data: Vec<Subscription>,
}

impl NylasClient {
    /// Creates a subscription. Nylas verifies the URL first (a challenge `GET`), so calsync must
    /// already be serving it.
    pub async fn create_subscription(
        &self,
        subscription: &NewSubscription,
    ) -> Result<CreatedSubscription, NylasError> {
        let created: Data<CreatedSubscription> = self
            .fetch(Call::new(CREATE_SUBSCRIPTION, &[]), Some(subscription))
            .await?;
        Ok(created.data)
    }

    /// The application's subscriptions (entries without an `id` are left out).
    pub async fn list_subscriptions(&self) -> Result<Vec<Subscription>, NylasError> {
        let list: SubscriptionList = self
            .fetch(Call::new(LIST_SUBSCRIPTIONS, &[]), NO_BODY)
            .await?;
        Ok(list.data)
    }

    /// Replaces a subscription's secret. The old one stops working at once: configure the new
    /// one alongside it (`webhook_secrets` accepts several) before rotating in production.
    pub async fn rotate_subscription_secret(
        &self,
        id: &str,
    ) -> Result<CreatedSubscription, NylasError> {
        let rotated: Data<CreatedSubscription> = self
            .fetch(
                Call::new(ROTATE_SUBSCRIPTION_SECRET, &[id]),
                Some(&json!({})),
            )
            .await?;
        Ok(rotated.data)
    }

    /// Deletes a subscription.
    pub async fn delete_subscription(&self, id: &str) -> Result<(), NylasError> {
        let answer = self
            .send(Call::new(DELETE_SUBSCRIPTION, &[id]), NO_BODY)
            .await?;
        self.success(DELETE_SUBSCRIPTION, answer)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
