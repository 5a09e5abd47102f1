//! The `calsync` command line: parses arguments, loads settings, starts logging, runs a command
//! and turns its result into an exit code (0 success, 1 failure, 2 bad configuration or usage).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;
use url::Url;

use calsync::app::{self, App};
use calsync::clock::Clock;
use calsync::commands::dlq::DlqCommand;
use calsync::commands::replay::{ReplayArgs, TimeArg};
use calsync::commands::{check, dlq, replay, webhook};
use calsync::config::{self, LoadOptions, Settings};
use calsync::nylas::NylasClient;
use calsync::telemetry;

/// calsync mirrors Nylas calendar events into a CRM.
#[derive(Debug, Parser)]
#[command(name = "calsync", version, about)]
struct Cli {
    /// The TOML configuration file (optional; environment variables override it).
    #[arg(long, global = true, env = "CALSYNC_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the webhook server and the workers until SIGTERM or SIGINT.
    Serve,
    /// Exit 0 when the local daemon answers /healthz (the container HEALTHCHECK).
    Healthcheck,
    /// Re-enqueue logged notifications (after a mapping change, or to debug); safe while serve runs.
    Replay(ReplayCli),
    /// Manage the Nylas webhook subscription that delivers notifications to calsync.
    #[command(subcommand)]
    Webhook(WebhookCli),
    /// Validate the configuration and reach Nylas, the CRM and the store; exit 1 on any failure.
    Check,
    /// List or requeue dead letters (works while `serve` runs on the same store).
    #[command(subcommand)]
    Dlq(DlqCommand),
}

/// `calsync replay`. T is RFC 3339 (2026-07-01T09:00:00Z), Unix seconds, or a duration before
/// now (2h, 7d).
#[derive(Debug, Args)]
struct ReplayCli {
    /// Replay notifications received at or after T.
    #[arg(long, value_name = "T")]
    since: TimeArg,
    /// Replay notifications received before T (default: now).
    #[arg(long, value_name = "T")]
    until: Option<TimeArg>,
    /// Replay only the notifications of this event id.
    #[arg(long = "event", value_name = "ID")]
    event: Option<String>,
}

/// `calsync webhook …`.
#[derive(Debug, Subcommand)]
enum WebhookCli {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&LoadOptions::from_process(cli.config.clone())) {
        Ok(settings) => settings,
        Err(error) => {
            if matches!(cli.command, Command::Check) {
                println!("FAIL  configuration    {error}");
            }
            eprintln!("calsync: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(error) = telemetry::init_logging(&settings.log) {
        eprintln!("calsync: {error}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("calsync: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command, settings)) {
        Ok(code) => code,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "calsync failed.");
            eprintln!("calsync: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    match command {
        Command::Serve => serve(settings).await?,
        Command::Healthcheck => healthcheck(&settings).await?,
        Command::Replay(cli) => {
            let args = ReplayArgs {
                since: cli.since,
                until: cli.until,
                event_id: cli.event,
            };
            let app = App::build(settings, Clock::System).await?;
            replay::run(&app, &args, &mut out).await?;
        }
        Command::Webhook(cli) => {
            let nylas = NylasClient::new(&settings.nylas, app::http_client()?);
            match cli {
                WebhookCli::Create {
                    url,
                    emails,
                    description,
                } => {
                    let args = webhook::CreateArgs {
                        url,
                        emails,
                        description,
                    };
                    webhook::create(&nylas, &args, &mut out).await?;
                }
                WebhookCli::List => {
                    webhook::list(&nylas, &mut out).await?;
                }
                WebhookCli::RotateSecret { id } => {
                    webhook::rotate_secret(&nylas, &id, &mut out).await?;
                }
                WebhookCli::Delete { id } => webhook::delete(&nylas, &id, &mut out).await?,
            }
        }
        Command::Dlq(command) => {
            dlq::run(&command, &settings, Clock::System, &mut out.lock()).await?;
        }
        Command::Check => {
            if !check::run(&settings, &mut out).await?.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    settings.require_nylas_api_key()?;
    let listen = settings.server.listen;
    let shutdown = shutdown_signal()?;
    let app = App::build(settings, Clock::System).await?;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| anyhow::anyhow!("cannot listen on {listen} (server.listen): {error}"))?;
    app.serve(listener, shutdown).await?;
    Ok(())
}

/// GETs `/healthz` on the local listen port.
async fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let mut address = settings.server.listen;
    if address.ip().is_unspecified() {
        address.set_ip(match address {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    let url = format!("http://{address}/healthz");
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(std::time::Duration::from_secs(2))
        .send()
        .await?;
    anyhow::ensure!(
        response.status().is_success(),
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

/// Resolves on the first SIGTERM or SIGINT; a second one exits the process at once.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = terminate.recv() => {}
            _ = interrupt.recv() => {}
        }
        tokio::spawn(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
            eprintln!("calsync: second signal received; exiting at once.");
            std::process::exit(130);
        });
    })
}
