//! Ingest throughput over HTTP, side by side in one run: the reference handler that only verifies
//! the Nylas HMAC ([`bare`]), `calsync serve` on SQLite (every 200 durable), and — given a
//! PostgreSQL server — two `calsync serve` replicas on one PostgreSQL database. Each target gets
//! the same number of distinct, pre-signed ~1 KB notifications over the same number of keep-alive
//! connections ([`load`]); the report gives req/s, p50/p99/max latency, each calsync target's
//! ratio to the reference handler, and the CPU time the server processes used per request
//! (user + system, from `/proc`): a target that is far from using its share of the CPUs is
//! waiting (for the disk's flush, for its single writer), not computing.
//!
//! ```sh
//! scripts/bench-ingest                                   # SQLite
//! scripts/bench-ingest --postgres postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! (`cargo build --release --bin calsync --example ingest_bench`, then
//! `target/release/examples/ingest_bench [options]`.) With a PostgreSQL URL a scratch database
//! `calsync_bench_<random>` is created on that server and dropped afterwards. The load generator
//! shares the machine with the servers: the numbers are a ratio on one machine, not a capacity.

mod bare;
mod corpus;
mod load;
mod servers;

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Parser, Subcommand};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    command: Option<Internal>,
    /// Measured requests per target (each a distinct notification).
    #[arg(long, default_value_t = 50_000)]
    requests: usize,
    /// Requests sent before measuring each target (warms caches, the database and the pools).
    #[arg(long, default_value_t = 2_000)]
    warmup: usize,
    /// Keep-alive connections (split evenly over a target's replicas).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// A PostgreSQL server URL: also measure two calsync replicas on one scratch database there.
    #[arg(long)]
    postgres: Option<String>,
}

#[derive(Subcommand)]
enum Internal {
    /// Serve the reference handler (run by the benchmark itself).
    BareServer { listen: SocketAddr },
    /// Only send load (`--requests`, `--connections`) to a server already running at `address`,
    /// e.g. calsync under callgrind (`scripts/profile-ingest`); ids are prefixed by `label`.
    Load { address: SocketAddr, label: String },
}

/// One target's result row.
struct Row {
    name: &'static str,
    measured: load::Measured,
    /// CPU time the target's server processes used during the measured run.
    server_cpu: Duration,
    load_average: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(Internal::BareServer { listen }) = args.command {
        return bare::serve(listen);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    match &args.command {
        Some(Internal::Load { address, label }) => {
            runtime.block_on(load_only(&args, *address, label))
        }
        _ => runtime.block_on(measure_all(&args)),
    }
}

/// Sends `--requests` distinct notifications to one running server and prints what it measured.
async fn load_only(args: &Args, address: SocketAddr, label: &str) -> anyhow::Result<()> {
    let requests = corpus::requests(label, args.requests, &address.to_string());
    let measured = load::run(&[address], args.connections, requests).await?;
    println!(
        "{} requests, {} non-200, {:.0} req/s, p99 {:.2} ms",
        measured.requests,
        measured.failures,
        measured.rate(),
        measured.percentile(99.0).as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn measure_all(args: &Args) -> anyhow::Result<()> {
    let binary = servers::calsync_binary()?;
    let dir = tempfile::tempdir()?;
    let nonce = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    println!(
        "{} CPUs, load average {} at start; {} connections, {} requests per target after {} warm-up",
        std::thread::available_parallelism().map_or(0, usize::from),
        load_average(),
        args.connections,
        args.requests,
        args.warmup,
    );
    let mut rows = Vec::new();

    let bare = servers::bare()?;
    rows.push(measure(args, "bare HMAC (axum)", &[&bare], &nonce).await?);
    drop(bare);

    let sqlite_url = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let sqlite = servers::calsync(&binary, &sqlite_url, &dir.path().join("sqlite.log"))?;
    rows.push(measure(args, "calsync SQLite", &[&sqlite], &nonce).await?);
    drop(sqlite);

    if let Some(server) = &args.postgres {
        let name = format!("calsync_bench_{nonce}");
        let mut admin = PgConnection::connect(server).await?;
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await?;
        let mut url = url::Url::parse(server)?;
        url.set_path(&name);
        let result = measure_replicas(args, &binary, url.as_str(), dir.path(), &nonce).await;
        admin
            .execute(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .await?;
        rows.push(result?);
    }
    report(&rows);
    Ok(())
}

/// Two calsync replicas on one PostgreSQL database (the second starts once the first migrated).
async fn measure_replicas(
    args: &Args,
    binary: &std::path::Path,
    url: &str,
    dir: &std::path::Path,
    nonce: &str,
) -> anyhow::Result<Row> {
    let first = servers::calsync(binary, url, &dir.join("postgres-1.log"))?;
    let second = servers::calsync(binary, url, &dir.join("postgres-2.log"))?;
    measure(args, "calsync PostgreSQL x2", &[&first, &second], nonce).await
}

/// Warms up, then measures one target.
async fn measure(
    args: &Args,
    name: &'static str,
    servers: &[&servers::Server],
    nonce: &str,
) -> anyhow::Result<Row> {
    let addresses: Vec<SocketAddr> = servers.iter().map(|server| server.address).collect();
    let addresses = &addresses[..];
    let cpu = || {
        servers
            .iter()
            .map(|server| server.cpu_time())
            .sum::<Duration>()
    };
    let host = addresses[0].to_string();
    let label = |phase: &str| format!("{nonce}-{}-{phase}", name.replace(' ', "_"));
    let warmup = corpus::requests(&label("warmup"), args.warmup, &host);
    load::run(addresses, args.connections, warmup).await?;
    let requests = corpus::requests(&label("run"), args.requests, &host);
    let body_bytes = corpus::mean_body_bytes(&requests);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let cpu_before = cpu();
    let measured = load::run(addresses, args.connections, requests).await?;
    let server_cpu = cpu().saturating_sub(cpu_before);
    let load_average = load_average();
    eprintln!(
        "{name}: {:.0} req/s, {} failed, bodies {body_bytes} B",
        measured.rate(),
        measured.failures
    );
    Ok(Row {
        name,
        measured,
        server_cpu,
        load_average,
    })
}

fn report(rows: &[Row]) {
    let ceiling = rows.first().map_or(1.0, |row| row.measured.rate());
    println!(
        "{:<22} {:>9} {:>7} {:>9} {:>8} {:>8} {:>8} {:>6} {:>10}  load avg after",
        "target",
        "requests",
        "non-200",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "ratio",
        "CPU us/req"
    );
    for row in rows {
        let measured = &row.measured;
        let millis = |latency: Duration| latency.as_secs_f64() * 1000.0;
        println!(
            "{:<22} {:>9} {:>7} {:>9.0} {:>8.2} {:>8.2} {:>8.2} {:>6.3} {:>10.1}  {}",
            row.name,
            measured.requests,
            measured.failures,
            measured.rate(),
            millis(measured.percentile(50.0)),
            millis(measured.percentile(99.0)),
            millis(measured.latencies.last().copied().unwrap_or_default()),
            measured.rate() / ceiling,
            row.server_cpu.as_secs_f64() * 1e6 / measured.requests.max(1) as f64,
            row.load_average,
        );
    }
}

/// The 1, 5 and 15 minute load averages (other builds may share the machine).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "?".to_string())
}
