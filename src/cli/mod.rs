//! The command line (part of the binary crate, not the library): clap definitions and the
//! dispatch from a parsed command to the library. Each command's logic lives in the library
//! (`calsync::commands`, `calsync::backfill`, `calsync::app`) so tests can run it in process.
//!
//! Exit codes: 0 success, 1 failure, 2 bad configuration or usage. Logging goes to stdout for
//! `serve` (the container's log stream) and to stderr for every other command, whose stdout is
//! its report.

mod args;
mod run;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use calsync::backfill::BackfillArgs;
use calsync::cause::Chain;
use calsync::commands::dlq::DlqCommand;
use calsync::config::{self, LoadOptions};
use calsync::telemetry::{self, LogOutput};

use args::{ReplayCli, WebhookCli};

/// calsync mirrors Nylas calendar events into a CRM.
#[derive(Debug, Parser)]
#[command(name = "calsync", version, about)]
pub struct Cli {
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
    /// Re-enqueue logged notifications (after a mapping change, or to debug); safe while serve runs.
    Replay(ReplayCli),
    /// List or requeue dead letters (works while `serve` runs on the same store).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Manage the Nylas webhook subscription that delivers notifications to calsync.
    #[command(subcommand)]
    Webhook(WebhookCli),
    /// Validate the configuration and reach Nylas, the CRM and the store; exit 1 on any failure.
    Check,
    /// Exit 0 when the local daemon answers /healthz (the container HEALTHCHECK).
    Healthcheck,
}

/// Parses the arguments, loads the settings, starts logging and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut settings = match config::load(&LoadOptions::from_process(cli.config.clone())) {
        Ok(settings) => settings,
        Err(error) => {
            if matches!(cli.command, Command::Check) {
                println!("FAIL  configuration    {error}");
            }
            eprintln!("calsync: configuration error: {error}");
            return ExitCode::from(2);
        }
    };
    let backfill = match &cli.command {
        Command::Backfill(args) => match run::backfill_plan(args, &mut settings) {
            Ok(plan) => Some(plan),
            Err(error) => {
                eprintln!("calsync: {error}");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    let output = match cli.command {
        Command::Serve => LogOutput::Stdout,
        _ => LogOutput::Stderr,
    };
    if let Err(error) = telemetry::init_logging(&settings.log, output) {
        eprintln!("calsync: {}", Chain(&error));
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
            Some(plan) => run::backfill(settings, plan).await,
            None => run::command(cli.command, settings).await,
        }
    };
    match runtime.block_on(work) {
        Ok(code) => code,
        Err(error) => {
            let error = Chain(error.as_ref());
            // Other commands log to stderr too: one report there, not two.
            if output == LogOutput::Stdout {
                tracing::error!(error = %error, "calsync failed.");
            }
            eprintln!("calsync: {error}");
            ExitCode::FAILURE
        }
    }
}
