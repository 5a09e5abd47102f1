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
    /// Sign a notification for a real event with the configured secret, POST it to the
    /// deployment, report the answer and, when the store can be read from here, follow the job
    /// until it synced (and to which CRM record) or failed. Exits 1 unless it synced.
    Test(WebhookTestCli),
}

/// `calsync webhook test`.
#[derive(Debug, Args)]
pub struct WebhookTestCli {
    /// The event to use (needs --grant); default: the most recently updated event of the grant's
    /// primary calendar.
    #[arg(long, value_name = "ID", requires = "grant")]
    pub event: Option<String>,
    /// The event's grant; default: the first valid grant of the application.
    #[arg(long, value_name = "ID")]
    pub grant: Option<String>,
    /// The calendar to read the event from (default: `primary` with --event, else the grant's
    /// primary calendar).
    #[arg(long, value_name = "ID")]
    pub calendar: Option<String>,
    /// Where to POST (the public HTTPS URL of the webhook path); default: the URL of the Nylas
    /// webhook that delivers event notifications, when there is exactly one.
    #[arg(long, value_name = "URL")]
    pub url: Option<Url>,
    /// How long to follow the job in the store.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = humantime::parse_duration)]
    pub wait: std::time::Duration,
}
