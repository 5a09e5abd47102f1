//! `calsync webhook create|list|rotate-secret|delete`: managing the Nylas webhook subscription
//! that delivers notifications to calsync.
//!
//! Invariants:
//! - A webhook secret is written to the output exactly once, by the command that obtained it
//!   (create, rotate-secret), on a line of its own; it is never logged and never repeated in the
//!   instructions around it.
//! - `create` subscribes to exactly [`TRIGGERS`]; rotation uses exactly
//!   `POST /v3/webhooks/rotate-secret/{id}` (the Nylas client's endpoint table).
//! - Every Nylas failure is returned with the action that failed and its cause.

use std::io::Write;

use secrecy::ExposeSecret;
use url::Url;

use super::table::Table;
use crate::nylas::NylasClient;
use crate::nylas::client::{CreatedSubscription, NewSubscription, NylasError, Subscription};
use crate::printable;

/// The triggers calsync subscribes to.
pub const TRIGGERS: [&str; 6] = crate::triggers::HANDLED;

/// The description given to a webhook when none is passed.
pub const DEFAULT_DESCRIPTION: &str = "calsync";

/// `webhook create` arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateArgs {
    /// Where Nylas posts notifications (`https://<host>/webhooks/nylas`).
    pub url: Url,
    /// Who Nylas emails when the webhook is failing.
    pub emails: Vec<String>,
    /// A description shown in the Nylas dashboard.
    pub description: Option<String>,
}

/// Why a webhook command failed.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionCommandError {
    /// Nylas refused or failed the create. The usual cause is the challenge.
    #[error(
        "Nylas did not create the webhook (before creating it, Nylas sends a challenge GET to the URL: calsync serve must be running there, reachable over HTTPS)"
    )]
    Create(#[source] NylasError),
    /// Another call failed.
    #[error("could not {action}")]
    Nylas {
        /// What was being done (`list the webhooks`, …).
        action: &'static str,
        /// Nylas's error.
        #[source]
        source: NylasError,
    },
    /// The output could not be written (after the change was made, for create and rotate).
    #[error("cannot write the command's output")]
    Output(#[source] std::io::Error),
}

fn nylas(action: &'static str) -> impl FnOnce(NylasError) -> SubscriptionCommandError {
    move |source| SubscriptionCommandError::Nylas { action, source }
}

/// Creates the subscription and prints its secret once, with how to configure it.
pub async fn create(
    client: &NylasClient,
    args: &CreateArgs,
    out: &mut impl Write,
) -> Result<CreatedSubscription, SubscriptionCommandError> {
    writeln!(
        out,
        "Creating the webhook: Nylas first sends a challenge GET to {}, which calsync serve must be running to answer.",
        args.url
    )
    .map_err(SubscriptionCommandError::Output)?;
    let request = NewSubscription {
        trigger_types: TRIGGERS.iter().map(|trigger| trigger.to_string()).collect(),
        webhook_url: args.url.to_string(),
        description: Some(
            args.description
                .clone()
                .unwrap_or_else(|| DEFAULT_DESCRIPTION.to_string()),
        ),
        notification_email_addresses: args.emails.clone(),
    };
    let created = client
        .create_subscription(&request)
        .await
        .map_err(SubscriptionCommandError::Create)?;
    print_created(out, &created).map_err(SubscriptionCommandError::Output)?;
    Ok(created)
}

fn print_created(out: &mut impl Write, created: &CreatedSubscription) -> std::io::Result<()> {
    writeln!(
        out,
        "Created webhook {} ({}) for {}.",
        created.id,
        created.status.as_deref().unwrap_or("status unknown"),
        created.url.as_deref().unwrap_or("(no url)")
    )?;
    writeln!(out, "Triggers: {}", created.trigger_types.join(", "))?;
    writeln!(out)?;
    writeln!(
        out,
        "Webhook secret (shown only this once; Nylas never returns it again):"
    )?;
    writeln!(out, "{}", created.webhook_secret.expose_secret())?;
    writeln!(out)?;
    writeln!(
        out,
        "Configure calsync with it: set NYLAS_WEBHOOK_SECRET to it, or add it to nylas.webhook_secrets in the configuration file, then restart calsync serve. Until then calsync rejects this webhook's notifications."
    )
}

/// Prints every subscription of the application: id, status, URL, triggers.
pub async fn list(
    client: &NylasClient,
    out: &mut impl Write,
) -> Result<Vec<Subscription>, SubscriptionCommandError> {
    let subscriptions = client
        .list_subscriptions()
        .await
        .map_err(nylas("list the webhooks"))?;
    print_list(out, &subscriptions).map_err(SubscriptionCommandError::Output)?;
    Ok(subscriptions)
}

fn print_list(out: &mut impl Write, subscriptions: &[Subscription]) -> std::io::Result<()> {
    if subscriptions.is_empty() {
        return writeln!(
            out,
            "No webhook subscription. Create one with: calsync webhook create --url https://<host>/webhooks/nylas"
        );
    }
    let mut table = Table::new(&[("ID", 80), ("STATUS", 20), ("URL", 200), ("TRIGGERS", 400)]);
    for subscription in subscriptions {
        table.row([
            subscription.id.as_str(),
            subscription.status.as_deref().unwrap_or("unknown"),
            subscription.url.as_deref().unwrap_or("-"),
            &subscription.trigger_types.join(","),
        ]);
    }
    out.write_all(table.render().as_bytes())?;
    for subscription in subscriptions {
        let status = crate::background::subscription_monitor::status_of(subscription);
        if status != "active" {
            writeln!(
                out,
                "note: {} is {}: {}",
                printable::cell(&subscription.id, 80),
                printable::escape(status),
                crate::background::subscription_monitor::explain(status)
            )?;
        }
    }
    Ok(())
}

/// Replaces a subscription's secret and prints the new one once, with what that means.
pub async fn rotate_secret(
    client: &NylasClient,
    id: &str,
    out: &mut impl Write,
) -> Result<CreatedSubscription, SubscriptionCommandError> {
    let rotated = client
        .rotate_subscription_secret(id)
        .await
        .map_err(nylas("rotate the webhook's secret"))?;
    print_rotated(out, &rotated).map_err(SubscriptionCommandError::Output)?;
    Ok(rotated)
}

fn print_rotated(out: &mut impl Write, rotated: &CreatedSubscription) -> std::io::Result<()> {
    writeln!(
        out,
        "Rotated the secret of webhook {}. New secret (shown only this once):",
        rotated.id
    )?;
    writeln!(out, "{}", rotated.webhook_secret.expose_secret())?;
    writeln!(out)?;
    writeln!(
        out,
        "The old secret stopped working at once: Nylas signs every notification with the new one from now on, and calsync rejects them (401, which Nylas does not retry) until it is configured. Add the new secret to nylas.webhook_secrets (keep the old one only while other webhooks still use it) and restart calsync serve now, then re-read the gap from the Events API (backfill or reconciliation)."
    )?;
    writeln!(
        out,
        "To change secrets without a gap next time: create a second webhook to the same URL, configure both secrets, restart, then delete the old webhook."
    )
}

/// Deletes a subscription.
pub async fn delete(
    client: &NylasClient,
    id: &str,
    out: &mut impl Write,
) -> Result<(), SubscriptionCommandError> {
    client
        .delete_subscription(id)
        .await
        .map_err(nylas("delete the webhook"))?;
    writeln!(
        out,
        "Deleted webhook {id}. Nylas no longer sends its notifications; remove its secret from nylas.webhook_secrets once no other webhook uses it."
    )
    .map_err(SubscriptionCommandError::Output)
}
