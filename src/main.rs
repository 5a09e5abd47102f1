//! The `calsync` command line: parses arguments, loads settings, starts logging, runs a command
//! and turns its result into an exit code (0 success, 1 failure, 2 bad configuration or usage).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use calsync::app::App;
use calsync::backfill::{self, BackfillArgs, BackfillOptions, ProgressMode};
use calsync::clock::Clock;
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
    /// Run the webhook server, the workers and reconciliation until SIGTERM or SIGINT.
    Serve,
    /// Read event history from the Nylas Events API into the CRM (resumable; safe beside serve).
    Backfill(BackfillArgs),
    /// Exit 0 when the local daemon answers /healthz (the container HEALTHCHECK).
    Healthcheck,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match config::load(&LoadOptions::from_process(cli.config.clone())) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("calsync: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let backfill = match &cli.command {
        Command::Backfill(args) => match args.options(jiff::Timestamp::now()) {
            Ok(options) => Some((options, ProgressMode::detect())),
            Err(error) => {
                eprintln!("calsync: {error}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    if let Some((_, ProgressMode::Bar)) = &backfill {
        settings.log.level = backfill::progress::behind_bar_log_level(&settings.log.level);
    }
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
    let work = async {
        match backfill {
            Some((options, mode)) => run_backfill(settings, options, mode).await,
            None => run(cli.command, settings).await.map(|()| ExitCode::SUCCESS),
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
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
        Command::Backfill(_) => anyhow::bail!("the backfill arguments were not validated"),
    }
}

/// Runs a backfill; prints its summary; exits 1 when anything failed or it was interrupted.
async fn run_backfill(
    settings: Settings,
    options: BackfillOptions,
    mode: ProgressMode,
) -> anyhow::Result<ExitCode> {
    settings.require_nylas_api_key()?;
    let shutdown = shutdown_signal()?;
    let app = App::build(settings, Clock::System).await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        eprintln!(
            "calsync: stopping the backfill after the events in hand; run it again to resume."
        );
        on_signal.cancel();
    });
    let summary = backfill::run(&app, options, mode, stop).await?;
    println!("{summary}");
    Ok(if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
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
