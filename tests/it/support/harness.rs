//! [`TestApp`]: the real router and worker, built by the real configuration loader, against a
//! fresh SQLite file and fake Nylas and CRM servers.
//!
//! The HTTP edge runs in the background (as in production); jobs run only when a test calls
//! [`TestApp::drain`], so tests are deterministic without sleeping.
//!
//! Paused time: with [`TestAppBuilder::tokio_clock`] the app's clock follows tokio's, and the
//! harness also stops tokio from *auto-advancing* a paused clock (a blocking task is held open
//! for the app's lifetime, which tokio's test-util treats as "work in progress"). Otherwise
//! every wait on SQLite's worker thread would let tokio jump to the next pending timer (a
//! connection pool's idle reaper, minutes away) and schedules would drift. Time then moves only
//! when the test calls `tokio::time::advance`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use calsync::app::{App, Components};
use calsync::clock::Clock;
use calsync::config::{self, LoadOptions, Settings};
use calsync::http::verify::sign;
use calsync::store::{Ingestor, Store};
use calsync::worker::Runner;
use calsync::worker::settle::Settled;
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use super::fake_crm::{CRM_KEY, FakeCrm};
use super::fake_hubspot::{FakeHubSpot, HUBSPOT_TOKEN};
use super::fake_nylas::{FakeNylas, NYLAS_KEY};
use super::fake_pipedrive::{FakePipedrive, PIPEDRIVE_TOKEN};
use super::fake_salesforce::FakeSalesforce;
use super::server;

/// The webhook secret tests sign with.
pub const SECRET: &str = "whsec_test_0a1b2c3d4e";

/// A change to the loaded settings.
type Tweak = Box<dyn FnOnce(&mut Settings)>;

/// A wrapper around the opened store (e.g. to inject failures).
type StoreWrapper = Box<dyn FnOnce(Arc<dyn Store>) -> Arc<dyn Store>>;

/// Which fake CRM the app writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmFake {
    /// The generic REST contract ([`FakeCrm`]), the default.
    Rest,
    /// `crm.kind = "hubspot"` against [`FakeHubSpot`].
    HubSpot,
    /// `crm.kind = "pipedrive"` against [`FakePipedrive`].
    Pipedrive,
    /// `crm.kind = "salesforce"` against [`FakeSalesforce`].
    Salesforce,
}

/// Builds a [`TestApp`].
pub struct TestAppBuilder {
    env: HashMap<String, String>,
    tweaks: Vec<Tweak>,
    clock: Clock,
    wrap_store: Option<StoreWrapper>,
    crm: CrmFake,
}

/// Keeps a paused tokio clock from auto-advancing while it lives (see the module docs).
pub struct TimeAnchor {
    _release: std::sync::mpsc::Sender<()>,
}

impl TimeAnchor {
    /// Holds a blocking task open until the anchor is dropped.
    pub fn hold() -> TimeAnchor {
        let (release, released) = std::sync::mpsc::channel::<()>();
        tokio::task::spawn_blocking(move || {
            // Returns when the sender is dropped.
            let _ = released.recv();
        });
        TimeAnchor { _release: release }
    }
}

/// What an app runs against: the fakes, the store's directory and the settings.
#[derive(Clone)]
pub struct Fixture {
    pub nylas: FakeNylas,
    pub crm: FakeCrm,
    /// Set when built with [`CrmFake::HubSpot`].
    pub hubspot: Option<FakeHubSpot>,
    /// Set when built with [`CrmFake::Pipedrive`].
    pub pipedrive: Option<FakePipedrive>,
    /// Set when built with [`CrmFake::Salesforce`].
    pub salesforce: Option<FakeSalesforce>,
    pub settings: Settings,
    pub clock: Clock,
    dir: Arc<TempDir>,
    _anchor: Option<Arc<TimeAnchor>>,
}

impl Fixture {
    /// The directory holding the SQLite file.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Builds an app on this fixture's store file (a restart, or a second process).
    pub async fn app(&self) -> App {
        App::build(self.settings.clone(), self.clock)
            .await
            .expect("app builds")
    }
}

impl TestAppBuilder {
    /// Sets an environment variable for the configuration loader.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.insert(key.to_string(), value.to_string());
        self
    }

    /// Adjusts the loaded settings.
    pub fn with_config(mut self, tweak: impl FnOnce(&mut Settings) + 'static) -> Self {
        self.tweaks.push(Box::new(tweak));
        self
    }

    /// Uses a clock that follows tokio's (pausable) time.
    pub fn tokio_clock(mut self) -> Self {
        self.clock = Clock::tokio();
        self
    }

    /// Points calsync at a fake Salesforce org ([`TestApp::salesforce`]) instead of the REST
    /// fake.
    pub fn salesforce(self) -> Self {
        self.crm(CrmFake::Salesforce)
    }

    /// Writes to this fake CRM (configured as that kind, with its credential).
    pub fn crm(mut self, crm: CrmFake) -> Self {
        self.crm = crm;
        self
    }

    /// Wraps the opened store before the app is built around it.
    pub fn wrap_store(
        mut self,
        wrap: impl FnOnce(Arc<dyn Store>) -> Arc<dyn Store> + 'static,
    ) -> Self {
        self.wrap_store = Some(Box::new(wrap));
        self
    }

    /// Starts fakes, loads settings and builds the app, without serving it.
    pub async fn build(self) -> (App, Fixture) {
        let anchor =
            matches!(self.clock, Clock::Tokio { .. }).then(|| Arc::new(TimeAnchor::hold()));
        let nylas = FakeNylas::start().await;
        let crm = FakeCrm::start().await;
        let hubspot = match self.crm {
            CrmFake::HubSpot => Some(FakeHubSpot::start().await),
            _ => None,
        };
        let pipedrive = match self.crm {
            CrmFake::Pipedrive => Some(FakePipedrive::start().await),
            _ => None,
        };
        let salesforce = match self.crm {
            CrmFake::Salesforce => Some(FakeSalesforce::start().await),
            _ => None,
        };
        let (kind, base_url, key) = match (&hubspot, &pipedrive) {
            (Some(fake), _) => ("hubspot", fake.base_url(), HUBSPOT_TOKEN),
            (_, Some(fake)) => ("pipedrive", fake.base_url(), PIPEDRIVE_TOKEN),
            _ => ("rest", crm.base_url(), CRM_KEY),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut env = HashMap::from([
            (
                "CALSYNC__STORE__URL".to_string(),
                format!("sqlite://{}", dir.path().join("calsync.db").display()),
            ),
            ("NYLAS_API_KEY".to_string(), NYLAS_KEY.to_string()),
            ("NYLAS_WEBHOOK_SECRET".to_string(), SECRET.to_string()),
            ("NYLAS_API_URI".to_string(), nylas.api_uri()),
            ("CALSYNC__CRM__KIND".to_string(), kind.to_string()),
            ("CALSYNC__CRM__BASE_URL".to_string(), base_url),
            ("CRM_API_KEY".to_string(), key.to_string()),
            // Jobs run as soon as they are enqueued, so tests can drain the queue; the cases
            // about coalescing set their own window.
            (
                "CALSYNC__SYNC__COALESCE_WINDOW".to_string(),
                "0s".to_string(),
            ),
        ]);
        if anchor.is_some() && (kind == "hubspot" || salesforce.is_some()) {
            // Time moves only when the test advances it, so a batch's linger would never end:
            // batches take only what is already queued.
            env.insert("CALSYNC__CRM__BATCH_LINGER".to_string(), "0s".to_string());
        }
        if let Some(org) = &salesforce {
            env.remove("CALSYNC__CRM__BASE_URL");
            env.extend(org.env());
        }
        env.extend(self.env);
        let mut settings = config::load(&LoadOptions {
            config_path: None,
            env,
            ..LoadOptions::default()
        })
        .expect("test settings load");
        for tweak in self.tweaks {
            tweak(&mut settings);
        }
        let fixture = Fixture {
            nylas,
            crm,
            hubspot,
            pipedrive,
            salesforce,
            settings,
            clock: self.clock,
            dir: Arc::new(dir),
            _anchor: anchor,
        };
        let app = match self.wrap_store {
            None => fixture.app().await,
            Some(wrap) => {
                let url = fixture.settings.store.url.expose_secret().to_string();
                let policy = calsync::app::queue_policy(&fixture.settings);
                let store = wrap(
                    calsync::store::open_with(&url, policy)
                        .await
                        .expect("store opens"),
                );
                App::build_with_store(fixture.settings.clone(), fixture.clock, store)
                    .expect("app builds")
            }
        };
        (app, fixture)
    }

    /// Starts fakes, loads settings, builds the app and serves its router.
    pub async fn spawn(self) -> TestApp {
        let (app, fixture) = self.build().await;
        TestApp::serve(app, fixture).await
    }
}

/// A running calsync edge with its worker, store and fakes.
pub struct TestApp {
    pub address: SocketAddr,
    pub app: Arc<App>,
    /// The app's shared components (store, clients, write path, metrics, clock).
    pub parts: Components,
    pub runner: Runner,
    pub store: Arc<dyn Store>,
    pub ingest: Ingestor,
    pub draining: CancellationToken,
    pub nylas: FakeNylas,
    pub crm: FakeCrm,
    /// Set when built with [`CrmFake::HubSpot`].
    pub hubspot: Option<FakeHubSpot>,
    /// Set when built with [`CrmFake::Pipedrive`].
    pub pipedrive: Option<FakePipedrive>,
    /// Set when built with [`CrmFake::Salesforce`].
    pub salesforce: Option<FakeSalesforce>,
    pub http: reqwest::Client,
    pub fixture: Fixture,
}

impl TestApp {
    /// A builder with default settings.
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            env: HashMap::new(),
            tweaks: Vec::new(),
            clock: Clock::System,
            wrap_store: None,
            crm: CrmFake::Rest,
        }
    }

    /// Serves `app`'s router (jobs run only on [`TestApp::drain`]).
    pub async fn serve(app: App, fixture: Fixture) -> TestApp {
        let ingest = app.ingestor();
        let draining = CancellationToken::new();
        let router = app.router(ingest.clone(), draining.clone());
        let address = server::spawn(router).await;
        let parts = app.components();
        TestApp {
            address,
            runner: app.runner(),
            store: parts.store.clone(),
            parts,
            app: Arc::new(app),
            ingest,
            draining,
            nylas: fixture.nylas.clone(),
            crm: fixture.crm.clone(),
            hubspot: fixture.hubspot.clone(),
            pipedrive: fixture.pipedrive.clone(),
            salesforce: fixture.salesforce.clone(),
            http: reqwest::Client::new(),
            fixture,
        }
    }

    /// A second app on the same store file and fakes, as after a restart (this one keeps
    /// serving until dropped).
    pub async fn reopen(&self) -> TestApp {
        let app = self.fixture.app().await;
        TestApp::serve(app, self.fixture.clone()).await
    }

    /// GETs a path of the app's server; returns the status and body.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self
            .http
            .get(format!("http://{}{path}", self.address))
            .send()
            .await
            .unwrap();
        (response.status(), response.text().await.unwrap())
    }

    /// The Prometheus text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.get("/metrics").await.1
    }

    /// A default app.
    pub async fn spawn() -> TestApp {
        Self::builder().spawn().await
    }

    /// The fake HubSpot (built with [`CrmFake::HubSpot`]).
    pub fn hubspot(&self) -> &FakeHubSpot {
        self.hubspot.as_ref().expect("built with CrmFake::HubSpot")
    }

    /// The fake Pipedrive (built with [`CrmFake::Pipedrive`]).
    pub fn pipedrive(&self) -> &FakePipedrive {
        self.pipedrive
            .as_ref()
            .expect("built with CrmFake::Pipedrive")
    }

    /// The webhook URL.
    pub fn webhook_url(&self) -> String {
        let path = &self.fixture.settings.server.webhook_path;
        format!("http://{}{}", self.address, path)
    }

    /// GETs `/metrics`; the scrape's text.
    pub async fn scrape(&self) -> String {
        let url = format!("http://{}/metrics", self.address);
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.unwrap()
    }

    /// POSTs raw bytes with the given headers.
    pub async fn post_raw(&self, body: Vec<u8>, headers: &[(&str, String)]) -> reqwest::Response {
        let mut request = self.http.post(self.webhook_url()).body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        request.send().await.unwrap()
    }

    /// POSTs a notification signed with [`SECRET`]; returns the status.
    pub async fn notify(&self, envelope: &Value) -> StatusCode {
        let body = serde_json::to_vec(envelope).unwrap();
        let signature = sign(SECRET, &body);
        self.post_raw(body, &[("x-nylas-signature", signature)])
            .await
            .status()
    }

    /// Runs every due job to completion, one at a time, stopping early while a target (the CRM,
    /// Nylas) is paused; returns what happened to each.
    pub async fn drain(&self) -> Vec<Settled> {
        self.runner.run_until_idle().await.expect("drain jobs")
    }

    /// Runs the due jobs in concurrent rounds (as many at once as the pool runs) until none is
    /// left, as the daemon's pool would, so a batching CRM gathers them into batches.
    pub async fn drain_concurrently(&self) -> Vec<Settled> {
        self.runner
            .run_rounds_until_idle()
            .await
            .expect("drain jobs")
    }
}
