//! The servers under test, each a child process: the reference handler (this program re-run as
//! `ingest_bench bare-server`) and `calsync serve` (the release binary next to this example).
//!
//! calsync runs as deployed: its real configuration loader (environment variables only), JSON
//! logs at `info` (one line per notification, written to /dev/null), its worker pool, the
//! reconciliation loop and the periodic tasks. Nylas and the CRM point at a closed local port,
//! and `sync.coalesce_window` is an hour, so no job becomes due while the load runs: the workers
//! stay idle and what is measured is the edge and its durable commit.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use super::corpus::SECRET;

/// A server child process, stopped (SIGTERM, then waited for) when dropped.
pub struct Server {
    pub address: SocketAddr,
    child: Child,
}

impl Server {
    /// CPU time (user + system) the process has used so far, from `/proc/<pid>/stat`.
    pub fn cpu_time(&self) -> Duration {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // The fields after the command name (which is parenthesised and may hold spaces).
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, rest)| rest)
            .split_whitespace()
            .collect();
        let ticks = |index: usize| fields.get(index).and_then(|v| v.parse::<u64>().ok());
        // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
        let total = ticks(11).unwrap_or(0) + ticks(12).unwrap_or(0);
        Duration::from_millis(total * 1000 / CLOCK_TICKS_PER_SECOND)
    }
}

/// `USER_HZ`, the unit of `/proc/<pid>/stat` CPU times (100 on Linux).
const CLOCK_TICKS_PER_SECOND: u64 = 100;

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

/// Starts the reference handler.
pub fn bare() -> anyhow::Result<Server> {
    let address = free_address()?;
    let child = Command::new(std::env::current_exe()?)
        .args(["bare-server", &address.to_string()])
        .stdout(Stdio::null())
        .spawn()
        .context("starting the reference handler")?;
    wait_until_listening(Server { address, child })
}

/// Starts `calsync serve` on the store at `store_url`; its stderr goes to `log`.
pub fn calsync(binary: &Path, store_url: &str, log: &Path) -> anyhow::Result<Server> {
    let address = free_address()?;
    let closed = "http://127.0.0.1:9";
    let child = Command::new(binary)
        .arg("serve")
        .env_clear()
        .env("CALSYNC__STORE__URL", store_url)
        .env("CALSYNC__SERVER__LISTEN", address.to_string())
        .env("NYLAS_API_KEY", "nylas-bench-key")
        .env("NYLAS_WEBHOOK_SECRET", SECRET)
        .env("NYLAS_API_URI", closed)
        .env("CALSYNC__CRM__KIND", "rest")
        .env("CALSYNC__CRM__BASE_URL", closed)
        .env("CRM_API_KEY", "crm-bench-key")
        .env("CALSYNC__SYNC__COALESCE_WINDOW", "1h")
        .env("CALSYNC__SYNC__COALESCE_MAX_DELAY", "1h")
        .env("CALSYNC__LOG__FORMAT", "json")
        .env("CALSYNC__LOG__LEVEL", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    wait_until_listening(Server { address, child })
        .with_context(|| format!("calsync did not start; see {}", log.display()))
}

/// The calsync binary built by the same `cargo build --release` as this example.
pub fn calsync_binary() -> anyhow::Result<PathBuf> {
    let example = std::env::current_exe()?;
    let binary = example
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("calsync"))
        .context("locating the calsync binary")?;
    if !binary.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release --bin calsync --example ingest_bench`",
            binary.display()
        );
    }
    Ok(binary)
}

/// A loopback address nothing listens on right now.
fn free_address() -> anyhow::Result<SocketAddr> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// Waits (up to 30 s) until the server accepts connections.
fn wait_until_listening(mut server: Server) -> anyhow::Result<Server> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(server.address).is_ok() {
            return Ok(server);
        }
        if let Some(status) = server.child.try_wait()? {
            bail!("the server exited at start ({status})");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!(
        "the server did not listen on {} within 30 s",
        server.address
    )
}
