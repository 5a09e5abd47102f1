//! Running the real `calsync` binary against the fakes.

use std::path::Path;
use std::process::{Child, Command, Stdio};
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
        Daemon::start_on(&url, nylas, crm, extra).await
    }

    /// Starts `calsync serve` on the store `store_url` (any backend; several daemons may share
    /// a PostgreSQL one) with extra environment variables, waits until `/readyz` answers 200.
    pub async fn start_on(
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
            .env("CALSYNC__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("CALSYNC__STORE__URL", store_url)
            .env("NYLAS_API_KEY", NYLAS_KEY)
            .env("NYLAS_WEBHOOK_SECRET", SECRET)
            .env("NYLAS_API_URI", nylas.api_uri())
            .env("CALSYNC__CRM__BASE_URL", crm.base_url())
            .env("CRM_API_KEY", CRM_KEY)
            .env("CALSYNC__SYNC__RETRY_INITIAL", "20ms")
            .env("CALSYNC__SYNC__RETRY_MAX", "200ms")
            .env("CALSYNC__SYNC__MAX_ATTEMPTS", "100000")
            .env("CALSYNC__SYNC__LEASE", "2s")
            .env("CALSYNC__RECONCILE__INTERVAL", "0s")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (key, value) in extra {
            command.env(key, value);
        }
        let child = command.spawn().expect("start calsync");
        let mut daemon = Daemon {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
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

    /// The process id (calsync names its leases `<pid>-<random>`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no chance to flush or release anything.
    pub fn kill(&mut self) {
        self.child.kill().expect("kill calsync");
        self.child.wait().expect("reap calsync");
    }

    /// SIGTERM, then waits (at most a minute) for the exit code.
    pub async fn terminate(&mut self) -> Option<i32> {
        let pid = Pid::from_raw(self.child.id() as i32);
        kill(pid, Signal::SIGTERM).expect("signal calsync");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("calsync did not exit within a minute of SIGTERM");
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

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("free port")
}
