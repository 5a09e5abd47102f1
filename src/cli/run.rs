//! Running a parsed command: each arm builds what the command needs and calls the library.

use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use calsync::app::{self, App};
use calsync::backfill::{self, BackfillArgs, BackfillOptions, ProgressMode};
use calsync::clock::Clock;
use calsync::commands::endpoint_test::{self, TestArgs};
use calsync::commands::replay::ReplayArgs;
use calsync::commands::{check, dlq, replay, subscriptions};
use calsync::config::{LogFormat, LogSettings, Settings};
use calsync::demo::DemoOptions;
use calsync::nylas::NylasClient;
use calsync::telemetry::{self, LogOutput};

use super::Command;
use super::args::{DemoCli, WebhookCli, WebhookTestCli};

/// The binary's time source: every command, and the backfill window chosen before it starts,
/// reads the operating system's clock through it (tests build the library with another).
const CLOCK: Clock = Clock::System;

/// A validated backfill: its window and how it shows progress.
pub struct BackfillPlan {
    options: BackfillOptions,
    mode: ProgressMode,
}

/// Validates the backfill arguments (before logging starts, so a bad window exits 2); with a
/// progress bar, quiets the per-event log lines that would tear it.
pub fn backfill_plan(
    args: &BackfillArgs,
    settings: &mut Settings,
) -> Result<BackfillPlan, backfill::ArgsError> {
    let options = args.options(CLOCK.now())?;
    let mode = ProgressMode::detect();
    if mode == ProgressMode::Bar {
        settings.log.level = backfill::progress::behind_bar_log_level(&settings.log.level);
    }
    Ok(BackfillPlan { options, mode })
}

/// Runs `calsync demo`: its own logging (warnings and errors, as text on stderr) and runtime,
/// no configuration.
pub fn demo(args: &DemoCli) -> ExitCode {
    let log = LogSettings {
        format: LogFormat::Text,
        level: "warn".to_owned(),
    };
    if let Err(error) = telemetry::init_logging(&log, LogOutput::Stderr) {
        eprintln!("calsync: {error}");
        return ExitCode::FAILURE;
    }
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    let options = DemoOptions { json: args.json };
    let mut out = std::io::stdout();
    match runtime.block_on(calsync::demo::run(options, &mut out)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!(
                "calsync demo: {}",
                anyhow::Error::new(error)
                    .chain()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(": ")
            );
            ExitCode::FAILURE
        }
    }
}

/// The multi-threaded runtime the commands run on; `None` (the reason printed) when it cannot
/// start.
pub fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("calsync: cannot start the async runtime: {error}");
            None
        }
    }
}

/// Runs every command but `backfill`.
pub async fn command(command: Command, settings: Settings) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout();
    match command {
        Command::Serve => serve(settings).await?,
        Command::Healthcheck => healthcheck(&settings).await?,
        Command::Backfill(_) => anyhow::bail!("the backfill arguments were not validated"),
        Command::Demo(_) => anyhow::bail!("the demo runs without configuration"),
        Command::Replay(cli) => {
            let args = ReplayArgs {
                since: cli.since,
                until: cli.until,
                event_id: cli.event,
            };
            let app = App::build(settings, CLOCK).await?;
            let deps = app.replay_deps();
            replay::run(deps.store.as_ref(), deps.clock, &args, &mut out).await?;
        }
        Command::Webhook(cli) => {
            let nylas = NylasClient::new(&settings.nylas, app::http_client()?).with_clock(CLOCK);
            match cli {
                WebhookCli::Create {
                    url,
                    emails,
                    description,
                } => {
                    let args = subscriptions::CreateArgs {
                        url,
                        emails,
                        description,
                    };
                    subscriptions::create(&nylas, &args, &mut out).await?;
                }
                WebhookCli::List => {
                    subscriptions::list(&nylas, &mut out).await?;
                }
                WebhookCli::RotateSecret { id } => {
                    subscriptions::rotate_secret(&nylas, &id, &mut out).await?;
                }
                WebhookCli::Delete { id } => {
                    subscriptions::delete(&nylas, &id, &mut out).await?;
                }
                WebhookCli::Test(test) => return run_endpoint_test(&settings, &nylas, test).await,
            }
        }
        Command::Dlq(command) => {
            dlq::run(&command, &settings, CLOCK, &mut out.lock()).await?;
        }
        Command::Check => {
            if !check::run(&settings, &mut out).await?.passed() {
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `webhook test`: exit 0 when the notification was stored and (where it could be
/// followed) synced, 1 otherwise, 2 for a configuration or usage problem.
async fn run_endpoint_test(
    settings: &Settings,
    nylas: &NylasClient,
    cli: WebhookTestCli,
) -> anyhow::Result<ExitCode> {
    let args = TestArgs {
        event: cli.event,
        grant: cli.grant,
        calendar: cli.calendar,
        url: cli.url,
        wait: cli.wait,
    };
    match endpoint_test::run(settings, nylas, &args, &mut std::io::stdout()).await {
        Ok(report) if report.passed() => Ok(ExitCode::SUCCESS),
        Ok(_) => Ok(ExitCode::FAILURE),
        Err(error) if error.is_usage() => {
            eprintln!("calsync: {error}");
            Ok(ExitCode::from(2))
        }
        Err(error) => Err(error.into()),
    }
}

/// Runs a backfill; prints its summary; exits 1 when anything failed or it was interrupted.
pub async fn backfill(settings: Settings, plan: BackfillPlan) -> anyhow::Result<ExitCode> {
    let shutdown = shutdown_signal()?;
    let app = App::build(settings, CLOCK).await?;
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        shutdown.await;
        eprintln!(
            "calsync: stopping the backfill after the events in hand; run it again to resume."
        );
        on_signal.cancel();
    });
    let summary = backfill::run(app.backfill_deps(), plan.options, plan.mode, stop).await?;
    println!("{summary}");
    Ok(if summary.succeeded() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.server.listen;
    let shutdown = shutdown_signal()?;
    let app = App::build(settings, CLOCK).await?;
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
