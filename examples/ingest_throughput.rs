//! Measures webhook ingest throughput — notifications durably stored per second through the
//! group-commit [`Ingestor`], as the HTTP edge uses it — on SQLite and PostgreSQL, with 1, 16
//! and 64 concurrent submitters (concurrent webhook requests). Each notification carries a job
//! for its own event, so every one also writes a job row. A last row per backend caps batches at
//! one notification (a transaction per request) to show what group commit buys.
//!
//! ```sh
//! cargo run --release --example ingest_throughput                       # SQLite only
//! cargo run --release --example ingest_throughput -- postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! With a PostgreSQL URL, a scratch database `calsync_bench_<random>` is created on that server
//! and dropped afterwards. Numbers depend on the disk's fsync latency more than on anything else.

use std::time::{Duration, Instant};

use calsync::clock::Clock;
use calsync::store::{
    self, IncomingNotification, Ingestor, JobAction, JobRequest, JobSource, PayloadOrigin,
};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// Notifications per measurement.
const NOTIFICATIONS: usize = 4096;
/// The ingest writer's batch cap, as in `calsync serve`.
const MAX_BATCH: usize = 512;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let postgres = std::env::args().nth(1);
    let dir = tempfile::tempdir()?;
    let sqlite_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    println!("backend   submitters  max_batch  notifications/s  batches  mean batch");
    run_backend("sqlite", &sqlite_url).await?;
    if let Some(server) = postgres {
        let name = format!("calsync_bench_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&server).await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let mut url = url::Url::parse(&server)?;
        url.set_path(&name);
        let result = run_backend("postgres", url.as_str()).await;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        result?;
    }
    Ok(())
}

/// Runs every measurement on one backend, each on fresh notification ids.
async fn run_backend(backend: &str, url: &str) -> anyhow::Result<()> {
    let store = store::open(url).await?;
    let cases = [(1, MAX_BATCH), (16, MAX_BATCH), (64, MAX_BATCH), (64, 1)];
    for (round, (submitters, max_batch)) in cases.into_iter().enumerate() {
        let notifications = if max_batch == 1 {
            NOTIFICATIONS / 8
        } else {
            NOTIFICATIONS
        };
        let started = Instant::now();
        let ingestor = Ingestor::spawn(store.clone(), Clock::System, max_batch);
        submit_all(&ingestor, round, submitters, notifications).await?;
        let elapsed = started.elapsed();
        let stats = ingestor.stats();
        ingestor.close().await;
        report(
            backend,
            submitters,
            max_batch,
            notifications,
            elapsed,
            stats,
        );
    }
    Ok(())
}

fn report(
    backend: &str,
    submitters: usize,
    max_batch: usize,
    notifications: usize,
    elapsed: Duration,
    stats: store::ingest::IngestStats,
) {
    let rate = notifications as f64 / elapsed.as_secs_f64();
    let mean = stats.notifications as f64 / stats.batches.max(1) as f64;
    println!(
        "{backend:<9} {submitters:>10}  {max_batch:>9}  {rate:>15.0}  {:>7}  {mean:>10.1}",
        stats.batches
    );
}

/// `submitters` tasks each submitting their share one after another (like webhook requests,
/// each waiting for its 200).
async fn submit_all(
    ingestor: &Ingestor,
    round: usize,
    submitters: usize,
    notifications: usize,
) -> anyhow::Result<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for submitter in 0..submitters {
        let ingestor = ingestor.clone();
        let share: Vec<usize> = (submitter..notifications).step_by(submitters).collect();
        tasks.spawn(async move {
            for index in share {
                ingestor.submit(notification(round, index)).await?;
            }
            Ok::<(), store::ingest::IngestError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    Ok(())
}

fn notification(round: usize, index: usize) -> IncomingNotification {
    let id = format!("bench-{round}-{index}");
    let event = format!("event-{round}-{index}");
    let payload = serde_json::json!({"id": event, "grant_id": "grant-1", "updated_at": 1});
    IncomingNotification {
        id: id.as_str().into(),
        trigger: "event.updated".into(),
        grant_id: Some("grant-1".into()),
        event_id: Some(event.as_str().into()),
        received_at: jiff::Timestamp::now(),
        body: serde_json::to_vec(&payload).unwrap_or_default(),
        job: Some(JobRequest {
            record_key: event.into(),
            grant_id: "grant-1".into(),
            calendar_id: Some("primary".into()),
            action: JobAction::Upsert,
            payload: Some(payload.into()),
            origin: PayloadOrigin::NotificationComplete,
            version: Some(1),
            force_fetch: false,
            source: JobSource::Webhook,
            notification_id: Some(id.into()),
        }),
        grant_change: None,
    }
}
