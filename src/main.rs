//! The `calsync` command line: parses arguments, loads settings, starts logging, runs a command
//! and turns its result into an exit code (0 success, 1 failure, 2 bad configuration or usage).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use calsync::app::App;
use calsync::clock::Clock;
use calsync::commands::dlq::{self, DlqCommand};
use calsync::config::{self, LoadOptions, Settings};
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
    /// List or requeue dead letters (works while `serve` runs on the same store).
    #[command(subcommand)]
    Dlq(DlqCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match config::load(&LoadOptions::from_process(cli.config.clone())) {
        Ok(settings) => settings,
        Err(error) => {
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
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %format!("{error:#}"), "calsync failed.");
            eprintln!("calsync: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    match command {
        Command::Serve => serve(settings).await,
        Command::Healthcheck => healthcheck(&settings).await,
        Command::Dlq(command) => {
            dlq::run(
                &command,
                &settings,
                Clock::System,
                &mut std::io::stdout().lock(),
            )
            .await?;
            Ok(())
        }
    }
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
