//! `calsync demo`: calsync syncing sample meetings end to end, with no Nylas or CRM account.
//!
//! It runs the real daemon — the same [`App`], router, signature check, SQLite store, ingest,
//! workers, Nylas client, mapping and `rest` adapter as `calsync serve` — on `127.0.0.1:0`, with
//! its store in a temporary directory. Two loopback stand-ins replace the outside world: the
//! [`calendar`] answers the Nylas API calls with the sample events, and the [`crm`] implements the
//! generic REST contract. The demo then plays the [`samples`]: for each, it changes the calendar,
//! signs the notification with the webhook secret and POSTs it to the daemon, waits until the
//! store's queue is empty again, and reports what the daemon answered, what the CRM received and
//! what became of the record; at the end it prints the CRM's records.
//!
//! Invariants: nothing is written outside the temporary directory (removed at the end), nothing
//! listens beyond loopback, and nothing the user configured (file or environment) is read. Every
//! outcome reported is observed — in the store (notification log, queue, sync state) and in the
//! requests the CRM answered — never assumed from the sample.

pub mod calendar;
pub mod crm;
mod loopback;
mod report;
pub mod samples;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::app::{self, App, AppError};
use crate::clock::Clock;
use crate::config::{self, ConfigErrors, LoadOptions};
use crate::http::verify::sign;
use crate::ids::{EventId, TargetId};
use crate::store::{JobStats, NotificationFilter, Store, StoreError};

pub use report::{Outcome, StepReport};

use calendar::SampleCalendar;
use crm::{CrmRecord, DemoCrm};
use samples::Step;

/// The longest wait for one notification's job to finish.
const STEP_LIMIT: Duration = Duration::from_secs(30);

/// How often the queue is looked at while a job runs.
const WATCH_EVERY: Duration = Duration::from_millis(10);

/// `calsync demo` options.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DemoOptions {
    /// Print the CRM's records as JSON instead of a table.
    pub json: bool,
}

/// What the demo did.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoSummary {
    /// One report per sample notification, in order.
    pub steps: Vec<StepReport>,
    /// The CRM's records at the end, in creation order.
    pub records: Vec<CrmRecord>,
}

/// Why the demo could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The bundled sample notifications do not parse.
    #[error("the sample notifications do not parse")]
    Samples(#[source] serde_json::Error),
    /// The temporary directory for the store could not be created.
    #[error("cannot create the demo's temporary directory")]
    TempDir(#[source] std::io::Error),
    /// A loopback port could not be bound.
    #[error("cannot listen on a loopback port")]
    Listen(#[source] std::io::Error),
    /// The demo's settings were refused by the loader.
    #[error("calsync refused the demo's settings")]
    Settings(#[source] ConfigErrors),
    /// The daemon could not be built.
    #[error("calsync could not start")]
    Start(#[source] AppError),
    /// The daemon failed while serving.
    #[error("the daemon failed")]
    Serve(#[source] AppError),
    /// A notification could not be posted to the daemon.
    #[error("could not post notification {id} to the daemon")]
    Post {
        /// The notification's id.
        id: String,
        /// Why the POST failed.
        #[source]
        source: reqwest::Error,
    },
    /// A notification's job did not finish within the step's time limit.
    #[error(
        "notification {id}'s job did not finish within {}s (pending {}, in flight {}, retrying {})",
        STEP_LIMIT.as_secs(), .stats.pending, .stats.in_flight, .stats.retrying
    )]
    Stuck {
        /// The notification's id.
        id: String,
        /// The queue's counts when the demo gave up.
        stats: JobStats,
    },
    /// The demo's store could not be read.
    #[error("reading the demo's store failed")]
    Store(#[from] StoreError),
    /// The report could not be written.
    #[error("cannot write the demo's report")]
    Output(#[source] std::io::Error),
}

/// The daemon under demonstration and what the demo reads from it.
struct Rig {
    /// The daemon's clock: the demo dates and polls its store by the same time as the daemon.
    clock: Clock,
    store: Arc<dyn Store>,
    target: String,
    webhook_url: String,
    secret: String,
    http: reqwest::Client,
    calendar: SampleCalendar,
    crm: DemoCrm,
}

/// Runs the demo, writing its report to `out`.
pub async fn run(options: DemoOptions, out: &mut impl Write) -> Result<DemoSummary, DemoError> {
    let steps = samples::load().map_err(DemoError::Samples)?;
    let dir = tempfile::Builder::new()
        .prefix("calsync-demo-")
        .tempdir()
        .map_err(DemoError::TempDir)?;
    let calendar = SampleCalendar::start().await.map_err(DemoError::Listen)?;
    let crm = DemoCrm::start().await.map_err(DemoError::Listen)?;
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(DemoError::Listen)?;
    let address = listener.local_addr().map_err(DemoError::Listen)?;
    let secret = uuid::Uuid::new_v4().simple().to_string();
    let settings = settings(dir.path(), &calendar, &crm, &secret)?;
    let webhook_url = format!("http://{address}{}", settings.server.webhook_path);
    let app = App::build(settings, Clock::System)
        .await
        .map_err(DemoError::Start)?;
    calendar.set_webhook_url(&webhook_url);
    let parts = app.components();
    let rig = Rig {
        clock: parts.clock,
        store: parts.store,
        target: parts.crm.target().to_string(),
        webhook_url,
        secret,
        http: app::http_client().map_err(DemoError::Start)?,
        calendar,
        crm,
    };
    let stop = CancellationToken::new();
    let daemon = tokio::spawn(app.serve(listener, stop.clone().cancelled_owned()));
    let played = play(&rig, &steps, options, out).await;
    stop.cancel();
    let served = daemon.await;
    rig.store.close().await;
    let summary = played?;
    match served {
        Ok(result) => result.map_err(DemoError::Serve)?,
        Err(joined) => {
            return Err(DemoError::Serve(AppError::Server(std::io::Error::other(
                joined,
            ))));
        }
    }
    dir.close().map_err(DemoError::TempDir)?;
    Ok(summary)
}

/// The daemon's settings: through the real loader, from variables the demo sets (the user's
/// environment and files are not read).
fn settings(
    dir: &std::path::Path,
    calendar: &SampleCalendar,
    crm: &DemoCrm,
    secret: &str,
) -> Result<config::Settings, DemoError> {
    let store = format!("sqlite://{}", dir.join("calsync.db").display());
    let env: HashMap<String, String> = [
        ("CALSYNC__SERVER__LISTEN", "127.0.0.1:0".to_owned()),
        ("CALSYNC__STORE__URL", store),
        ("CALSYNC__NYLAS__API_URI", calendar.api_uri()),
        ("CALSYNC__NYLAS__API_KEY", calendar::API_KEY.to_owned()),
        ("CALSYNC__NYLAS__WEBHOOK_SECRETS", secret.to_owned()),
        ("CALSYNC__CRM__KIND", "rest".to_owned()),
        ("CALSYNC__CRM__BASE_URL", crm.base_url()),
        ("CALSYNC__CRM__API_KEY", crm::API_KEY.to_owned()),
        ("CALSYNC__CRM__MEETINGS_PATH", crm::MEETINGS_PATH.to_owned()),
        // Reconciliation would re-read the sample calendar on a timer: not part of the story.
        ("CALSYNC__RECONCILE__INTERVAL", "0s".to_owned()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .collect();
    let options = LoadOptions {
        config_path: None,
        env,
        logs_to_terminal: false,
    };
    config::load(&options).map_err(DemoError::Settings)
}

/// Posts every sample in turn, reporting as it goes, then prints the CRM's records.
async fn play(
    rig: &Rig,
    steps: &[Step],
    options: DemoOptions,
    out: &mut impl Write,
) -> Result<DemoSummary, DemoError> {
    report::introduction(out, &rig.webhook_url, steps.len()).map_err(DemoError::Output)?;
    let mut reports = Vec::with_capacity(steps.len());
    for (index, step) in steps.iter().enumerate() {
        let report = play_step(rig, step).await?;
        report::step(out, index + 1, steps.len(), step, &report).map_err(DemoError::Output)?;
        reports.push(report);
    }
    let records = rig.crm.records();
    report::records(out, &records, options.json).map_err(DemoError::Output)?;
    report::conclusion(out, &reports).map_err(DemoError::Output)?;
    Ok(DemoSummary {
        steps: reports,
        records,
    })
}

/// One notification: change the calendar, post it signed, wait for the queue, observe.
async fn play_step(rig: &Rig, step: &Step) -> Result<StepReport, DemoError> {
    let id = step.notification_id().to_owned();
    let event_id = step.event_id().to_owned();
    let event = EventId::from(step.event_id());
    let already_stored = logged(rig.store.as_ref(), &event, &id).await?;
    let started = rig.clock.now();
    let crm_mark = rig.crm.request_count();
    rig.calendar.apply(&step.notification);
    let body = serde_json::to_vec(&step.notification).map_err(DemoError::Samples)?;
    let answer = rig
        .http
        .post(&rig.webhook_url)
        .header("content-type", "application/json")
        .header("x-nylas-signature", sign(&rig.secret, &body))
        .body(body)
        .send()
        .await
        .map_err(|source| DemoError::Post {
            id: id.clone(),
            source,
        })?;
    drained(rig.store.as_ref(), rig.clock, &id).await?;
    let entry = rig.store.queue_entry(&event).await?;
    let dead = entry
        .dead_letter
        .filter(|letter| letter.dead_at >= started)
        .map(|letter| letter.last_error);
    let state = rig
        .store
        .load_state(&TargetId::from(rig.target.as_str()), &event)
        .await?;
    let crm_requests = rig.crm.requests_since(crm_mark);
    let outcome = Outcome::observed(already_stored, &crm_requests, state.as_ref(), dead);
    let record_status = state
        .and_then(|state| state.crm_record_id)
        .and_then(|id| {
            rig.crm
                .records()
                .into_iter()
                .find(|record| record.id == id.as_str())
        })
        .and_then(|record| record.field("meeting_status").map(str::to_owned));
    Ok(StepReport {
        notification_id: id,
        trigger: step.trigger().to_owned(),
        event_id,
        answer: answer.status().as_u16(),
        crm_requests,
        outcome,
        record_status,
    })
}

/// Whether the notification log already holds notification `id` (of event `event_id`).
async fn logged(store: &dyn Store, event_id: &EventId, id: &str) -> Result<bool, StoreError> {
    let filter = NotificationFilter {
        event_id: Some(event_id.clone()),
        ..NotificationFilter::default()
    };
    let logged = store.list_notifications(&filter).await?;
    Ok(logged.iter().any(|notification| notification.id == id))
}

/// Watches the store's job counts until nothing is pending, in flight or retrying.
async fn drained(store: &dyn Store, clock: Clock, id: &str) -> Result<(), DemoError> {
    let deadline = tokio::time::Instant::now() + STEP_LIMIT;
    let mut watch = tokio::time::interval(WATCH_EVERY);
    loop {
        watch.tick().await;
        let stats = store.job_stats(clock.now()).await?;
        if stats.pending + stats.in_flight + stats.retrying == 0 {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(DemoError::Stuck {
                id: id.to_owned(),
                stats,
            });
        }
    }
}
