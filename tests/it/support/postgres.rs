//! Fresh PostgreSQL databases for tests, on the server `CALSYNC_TEST_POSTGRES_URL` names.
//!
//! Each [`TestDatabase`] is a new database with a random name, dropped (forcibly, closing any
//! connection left) when the value is dropped — also when the test panics. Without the variable
//! the PostgreSQL tests pass without running and say so: one line on the terminal per test run
//! (written past the test harness's output capture) and one in each skipped test's output. CI
//! sets the variable (`.ci/run`), so there they always run; a set but unreachable URL fails.

use std::io::Write;
use std::sync::Once;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

/// The variable naming the PostgreSQL server tests may create databases on.
pub const URL_VARIABLE: &str = "CALSYNC_TEST_POSTGRES_URL";

/// A database created for one test; dropped with the value.
pub struct TestDatabase {
    /// The URL of the new database.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// Creates a fresh database, or `None` (announcing the skip) when the variable is unset.
    pub async fn create() -> Option<TestDatabase> {
        let admin_url = admin_url()?;
        let name = format!("calsync_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|error| panic!("{URL_VARIABLE} is set but unreachable: {error}"));
        admin
            .execute(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .await
            .expect("create a test database");
        let _ = admin.close().await;
        let mut url = url::Url::parse(&admin_url).expect("a valid PostgreSQL URL");
        url.set_path(&name);
        Some(TestDatabase {
            url: url.to_string(),
            admin_url,
            name,
        })
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        // Drop cannot await, and may run inside a runtime: use a thread with its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut admin = PgConnection::connect(&admin_url).await?;
                admin.execute(AssertSqlSafe(sql)).await?;
                admin.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop the test database {}", self.name);
        }
    }
}

/// The server URL, or `None` after announcing that PostgreSQL tests are skipped.
fn admin_url() -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            announce_skip();
            None
        }
    }
}

fn announce_skip() {
    static ANNOUNCED: Once = Once::new();
    let message = format!(
        "skipped: {URL_VARIABLE} is not set, so the PostgreSQL tests (store conformance on \
         postgres, replica races, multi-replica) pass without running"
    );
    ANNOUNCED.call_once(|| {
        // Past the harness's capture, so it shows once on the terminal.
        let _ = writeln!(std::io::stderr(), "\n{message}\n");
    });
    eprintln!("{message}");
}
