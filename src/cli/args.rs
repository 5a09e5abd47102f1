//! Arguments of the commands whose library functions take plain structs.

use clap::{Args, Subcommand};
use url::Url;

use calsync::commands::replay::TimeArg;

/// `calsync demo`.
#[derive(Debug, Args)]
pub struct DemoCli {
    /// Print the CRM's records as JSON (the generic REST body calsync sent) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `calsync replay`. T is RFC 3339 (2026-07-01T09:00:00Z), Unix seconds, or a duration before
/// now (2h, 7d).
#[derive(Debug, Args)]
pub struct ReplayCli {
    /// Replay notifications received at or after T.
    #[arg(long, value_name = "T")]
    pub since: TimeArg,
    /// Replay notifications received before T (default: now).
    #[arg(long, value_name = "T")]
    pub until: Option<TimeArg>,
    /// Replay only the notifications of this event id.
    #[arg(long = "event", value_name = "ID")]
    pub event: Option<String>,
}

/// `calsync webhook …`.
#[derive(Debug, Subcommand)]
pub enum WebhookCli {
    /// Subscribe URL to the event and grant triggers; prints the webhook secret once.
    Create {
        /// The public HTTPS URL of calsync's webhook path, e.g. https://calsync.example.com/webhooks/nylas.
        #[arg(long, value_name = "URL")]
        url: Url,
        /// Who Nylas emails when the webhook is failing (repeatable).
        #[arg(long = "email", value_name = "ADDR")]
        emails: Vec<String>,
        /// A description shown in the Nylas Dashboard (default "calsync").
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// List the application's webhooks: id, status, URL, triggers.
    List,
    /// Replace a webhook's secret (the old one stops working at once); prints the new one once.
    RotateSecret {
        /// The webhook id (see `webhook list`).
        id: String,
    },
    /// Delete a webhook.
    Delete {
        /// The webhook id (see `webhook list`).
        id: String,
    },
}
