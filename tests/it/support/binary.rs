//! Running the real `calsync` binary against the fakes: the `serve` daemon ([`Daemon`], its
//! stdout — the JSON log lines — appended to `calsync.log` in its directory) and one-shot
//! commands ([`run_command`]).

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use calsync::http::verify::sign;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use reqwest::StatusCode;
use serde_json::Value;

use super::fake_crm::{CRM_KEY, FakeCrm};
use super::fake_nylas::{FakeNylas, NYLAS_KEY};
use super::harness::SECRET;

/// A `calsync serve` child process.
pub struct Daemon {
    child: Child,
    pub base: String,
    http: reqwest::Client,
    /// Where the daemon's stdout (its log lines) goes.
    pub log: PathBuf,
}

/// The environment calsync runs with against the fakes, with its store in `dir`.
pub fn environment(dir: &Path, nylas: &FakeNylas, crm: &FakeCrm) -> Vec<(String, String)> {
    [
        (
            "CALSYNC__STORE__URL",
            format!("sqlite://{}", dir.join("calsync.db").display()),
        ),
        ("NYLAS_API_KEY", NYLAS_KEY.to_string()),
        ("NYLAS_WEBHOOK_SECRET", SECRET.to_string()),
        ("NYLAS_API_URI", nylas.api_uri()),
        ("CALSYNC__CRM__BASE_URL", crm.base_url()),
        ("CRM_API_KEY", CRM_KEY.to_string()),
        // Jobs run as soon as they are enqueued, so tests can drain the queue; the cases about
        // coalescing set their own window.
        ("CALSYNC__SYNC__COALESCE_WINDOW", "0s".to_string()),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), value))
    .collect()
}

/// Runs `calsync <args>` to completion with [`environment`] plus `extra` (which overrides it).
pub async fn run_command(
    dir: &Path,
    nylas: &FakeNylas,
    crm: &FakeCrm,
    extra: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_calsync"));
    command.args(args).env_clear().current_dir(dir);
    command.envs(environment(dir, nylas, crm));
    for (key, value) in extra {
        command.env(key, value);
    }
    command.output().await.expect("run calsync")
}

impl Daemon {
    /// Starts `calsync serve` with its SQLite store in `dir`, waits until `/readyz` answers 200.
    pub async fn start(
        dir: &Path,
        nylas: &FakeNylas,
        crm: &FakeCrm,
        extra: &[(&str, &str)],
    ) -> Daemon {
        let url = format!("sqlite://{}", dir.join("calsync.db").display());
        Daemon::start_on(dir, &url, nylas, crm, extra).await
    }

    /// Starts `calsync serve` on the store `store_url` (any backend; several daemons may share
    /// a PostgreSQL one) with extra environment variables, its log in `dir`; waits until
    /// `/readyz` answers 200.
    pub async fn start_on(
        dir: &Path,
        store_url: &str,
        nylas: &FakeNylas,
        crm: &FakeCrm,
        extra: &[(&str, &str)],
    ) -> Daemon {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_calsync"));
        command
            .arg("serve")
            .env_clear()
            .envs(environment(dir, nylas, crm))
            .env("CALSYNC__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("CALSYNC__STORE__URL", store_url)
            .env("CALSYNC__SYNC__RETRY_INITIAL", "20ms")
            .env("CALSYNC__SYNC__RETRY_MAX", "200ms")
            .env("CALSYNC__SYNC__MAX_ATTEMPTS", "100000")
            .env("CALSYNC__SYNC__LEASE", "2s")
            .env("CALSYNC__RECONCILE__INTERVAL", "0s");
        for (key, value) in extra {
            command.env(key, value);
        }
        Daemon::launch(command, dir, port).await
    }

    /// Starts `calsync <args>` in `dir` (its working directory, where its log goes too) with
    /// exactly the variables `env` plus a loopback listen address; waits until `/readyz`
    /// answers 200.
    pub async fn start_in(dir: &Path, env: &[(String, String)], args: &[String]) -> Daemon {
        let port = free_port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_calsync"));
        command
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(key, value)| (key, value)))
            .env("CALSYNC__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .current_dir(dir);
        Daemon::launch(command, dir, port).await
    }

    /// Spawns `command` (a `serve`, listening on `port`), its stdout appended to `calsync.log`
    /// in `dir`; waits until `/readyz` answers 200.
    async fn launch(mut command: Command, dir: &Path, port: u16) -> Daemon {
        let log = dir.join("calsync.log");
        let stdout = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the daemon's log file");
        command.stdout(Stdio::from(stdout)).stderr(Stdio::inherit());
        let child = command.spawn().expect("start calsync");
        let mut daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
            log,
        };
        let url = format!("{}/readyz", daemon.base);
        let http = daemon.http.clone();
        let ready = daemon
            .wait_for_async(Duration::from_secs(30), || {
                let http = http.clone();
                let url = url.clone();
                async move {
                    matches!(http.get(&url).send().await, Ok(r) if r.status() == StatusCode::OK)
                }
            })
            .await;
        assert!(ready, "calsync did not become ready");
        daemon
    }

    /// POSTs a signed notification.
    pub async fn notify(&self, envelope: &Value) -> StatusCode {
        self.try_notify(envelope).await.unwrap()
    }

    /// POSTs a signed notification; an error when no answer came (the daemon is gone).
    pub async fn try_notify(&self, envelope: &Value) -> Result<StatusCode, reqwest::Error> {
        let body = serde_json::to_vec(envelope).unwrap();
        let response = self
            .http
            .post(format!("{}/webhooks/nylas", self.base))
            .header("x-nylas-signature", sign(SECRET, &body))
            .body(body)
            .send()
            .await?;
        Ok(response.status())
    }

    /// Closes the keep-alive connections of the daemon's own HTTP client (a fresh client is used
    /// from now on), so a test can count the daemon's open connections.
    pub fn close_client_connections(&mut self) {
        self.http = reqwest::Client::new();
    }

    /// The process id (calsync names its leases `<pid>-<random>`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log lines written so far (by every daemon started in the same directory).
    pub fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .expect("read the daemon's log")
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// GETs `/metrics`.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.base);
        let response = self.http.get(url).send().await.unwrap();
        response.text().await.unwrap()
    }

    /// Polls `path` until it answers `status` or `limit` passes; whether it did.
    pub async fn wait_for_status(
        &mut self,
        path: &str,
        status: StatusCode,
        limit: Duration,
    ) -> bool {
        let url = format!("{}{path}", self.base);
        let http = self.http.clone();
        self.wait_for_async(limit, || {
            let http = http.clone();
            let url = url.clone();
            async move { matches!(http.get(&url).send().await, Ok(r) if r.status() == status) }
        })
        .await
    }

    /// Sends a signal.
    pub fn signal(&self, signal: Signal) {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, signal).expect("signal calsync");
    }

    /// Waits at most `limit` for the process to exit; its exit code (`None`: killed by a
    /// signal). Panics when it is still running.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("calsync did not exit within {limit:?}");
    }

    /// SIGKILL: no chance to flush or release anything.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill calsync");
        self.child.wait().expect("reap calsync");
    }

    /// SIGTERM, then waits (at most a minute) for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        self.signal(Signal::SIGTERM);
        self.wait_exit(Duration::from_secs(60)).await
    }

    /// Polls `condition` every 20 ms until it holds or `limit` passes; whether it held.
    pub async fn wait_for(&mut self, limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if condition() {
                return true;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("calsync exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        condition()
    }

    /// Like [`Daemon::wait_for`], with an async condition.
    pub async fn wait_for_async<F, Fut>(&mut self, limit: Duration, condition: F) -> bool
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::time::Instant::now() < deadline {
            if condition().await {
                return true;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("calsync exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs a signed notification to a daemon at `base`; the status, or the error when nothing
/// answered (the daemon is gone).
pub async fn post_signed(
    http: &reqwest::Client,
    base: &str,
    envelope: &Value,
) -> Result<StatusCode, reqwest::Error> {
    let body = serde_json::to_vec(envelope).unwrap();
    let response = http
        .post(format!("{base}/webhooks/nylas"))
        .header("x-nylas-signature", sign(SECRET, &body))
        .body(body)
        .send()
        .await?;
    Ok(response.status())
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}

/// The names of the entries of `dir`, sorted (to show a command wrote nothing there).
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("read the directory")
        .map(|entry| {
            entry
                .expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}
