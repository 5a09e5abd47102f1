//! The command line (part of the binary crate, not the library): clap definitions and the
//! dispatch from a parsed command to the library. Each command's logic lives in the library
//! (`calsync::commands`, `calsync::backfill`, `calsync::app`) so tests can run it in process.
//!
//! Exit codes: 0 success, 1 failure, 2 bad configuration (every problem printed once, before
//! anything runs; a command that calls Nylas needs `nylas.api_key`) or usage. Logging goes to stdout for
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
use calsync::config::{self, ConfigErrors, LoadOptions, Settings};
use calsync::telemetry::{self, LogOutput};

use args::{DemoCli, ReplayCli, WebhookCli};

/// The longest the process waits for leftover runtime tasks once a command returned.
const RUNTIME_SHUTDOWN: std::time::Duration = std::time::Duration::from_secs(1);

/// calsync mirrors Nylas calendar events into a CRM.
#[derive(Debug, Parser)]
#[command(name = "calsync", version = calsync::version::LONG, about)]
pub struct Cli {
    /// The TOML configuration file (optional; environment variables override it).
    #[arg(long, global = true, env = "CALSYNC_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// See calsync work with no account: the real daemon on loopback syncs sample meetings from
    /// a built-in calendar into a built-in CRM, and shows each record and outcome.
    Demo(DemoCli),
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
    if let Command::Demo(args) = &cli.command {
        // The demo needs no configuration, and reads none.
        return run::demo(args);
    }
    let output = match cli.command {
        Command::Serve => LogOutput::Stdout,
        _ => LogOutput::Stderr,
    };
    let options = match output {
        LogOutput::Stdout => LoadOptions::from_process(cli.config.clone(), &std::io::stdout()),
        LogOutput::Stderr => LoadOptions::from_process(cli.config.clone(), &std::io::stderr()),
    };
    let loaded = config::load(&options).and_then(|settings| cli.command.requires(settings));
    let mut settings = match loaded {
        Ok(settings) => settings,
        Err(errors) => return configuration_failed(&cli.command, &errors),
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
    if let Err(error) = telemetry::init_logging(&settings.log, output) {
        eprintln!("calsync: {}", Chain(&error));
        return ExitCode::from(2);
    }
    for warning in &settings.warnings {
        tracing::warn!("Configuration warning: {warning}");
    }
    let Some(runtime) = run::runtime() else {
        return ExitCode::FAILURE;
    };
    let work = async {
        match backfill {
            Some(plan) => run::backfill(settings, plan).await,
            None => run::command(cli.command, settings).await,
        }
    };
    let outcome = runtime.block_on(work);
    // Whatever is left (a blocking task stuck in a DNS lookup, say) must not hold the exit.
    runtime.shutdown_timeout(RUNTIME_SHUTDOWN);
    match outcome {
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

impl Command {
    /// The settings, when they have what this command needs beyond a valid configuration.
    fn requires(&self, settings: Settings) -> Result<Settings, ConfigErrors> {
        let calls_nylas = matches!(
            self,
            Command::Serve | Command::Backfill(_) | Command::Webhook(_)
        );
        match settings.require_nylas_api_key() {
            Err(error) if calls_nylas => Err(ConfigErrors {
                errors: vec![error],
                warnings: settings.warnings,
            }),
            _ => Ok(settings),
        }
    }
}

/// Prints a configuration that cannot be used, once (`check` reports it on stdout as its
/// `configuration` line, every other command on stderr), with the warnings gathered; exit 2.
fn configuration_failed(command: &Command, errors: &ConfigErrors) -> ExitCode {
    for warning in &errors.warnings {
        eprintln!("calsync: warning: {warning}");
    }
    if matches!(command, Command::Check) {
        for line in errors.lines() {
            println!("FAIL  configuration    {line}");
        }
    } else {
        eprintln!("calsync: {errors}");
    }
    ExitCode::from(2)
}
