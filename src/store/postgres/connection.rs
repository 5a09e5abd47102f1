//! Opening the PostgreSQL database and classifying its errors: the connection pool, durability
//! settings, migrations, transactions, and the mapping of PostgreSQL failures to [`StoreError`].
//!
//! Invariants:
//! - Every connection commits durably: a session whose server default is
//!   `synchronous_commit = off` is switched to `on` when it connects (stronger settings such as
//!   `remote_apply` are kept), so a committed ingest is on disk before the 200 is sent.
//! - Migrations have run before the pool is handed out. sqlx's PostgreSQL migrator holds a
//!   session-level `pg_advisory_lock` (keyed by the database name) from before it reads the
//!   migrations table until it has applied every migration (sqlx-postgres 0.9, `migrate.rs`,
//!   `lock`/`unlock`, called by `Migrator::run_direct` while `locking` is on, the default), so
//!   replicas starting at once apply each migration exactly once: the others wait, then find
//!   it applied.
//! - Every pooled connection sends each statement at once: Nagle's algorithm is turned off on
//!   its socket when it connects ([`super::nodelay`]; sqlx 0.9.0 leaves it on).
//! - Messages never contain the URL's password ([`redact_url`]).
//! - A failed commit leaves no broken connection behind (checked, unlike SQLite, with no code of
//!   ours; the conformance suite's `healing` cases prove it). PostgreSQL ends a transaction whose
//!   COMMIT failed, and sqlx-postgres 0.9 counts a dropped transaction as ended when it queues
//!   its ROLLBACK (`PgTransactionManager::start_rollback`), which PostgreSQL answers with a mere
//!   warning outside a transaction. The pool pings every connection as it comes back (running
//!   that ROLLBACK) and before handing an idle one out; a connection that fails either is closed
//!   and replaced, so a server restart or a dropped connection costs at most the operation that
//!   was under way.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Connection, Executor, Postgres, Transaction};

use crate::store::schema;
use crate::store::{StoreError, redact_url};

/// Connections in a store's pool (the LISTEN connection is separate).
const POOL_CONNECTIONS: u32 = 10;
/// How long a query waits for a free connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// The `application_name` of calsync's connections, unless the URL sets one.
const APPLICATION_NAME: &str = "calsync";

/// The embedded migrations (`src/store/migrations/postgres`), run at open.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/postgres");

/// Makes a session durable if its default is not (see the module docs).
const DURABLE_SESSION: &str = "SELECT set_config('synchronous_commit', 'on', false)
    WHERE current_setting('synchronous_commit') = 'off'";

/// Parses a `postgres://` or `postgresql://` URL (with any libpq-style parameters sqlx knows:
/// `sslmode`, `sslrootcert`, `options`, `application_name`, …).
pub(super) fn connect_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(StoreError::Setup(format!(
            "invalid PostgreSQL URL {}: expected postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact_url(url)
        )));
    }
    let options = PgConnectOptions::from_str(url).map_err(|error| {
        StoreError::Setup(format!(
            "invalid PostgreSQL URL {}: {error}",
            redact_url(url)
        ))
    })?;
    Ok(match options.get_application_name() {
        Some(_) => options,
        None => options.application_name(APPLICATION_NAME),
    })
}

/// Connects once (so a wrong URL, bad credentials or an unreachable server fail at start with
/// the server's own reason rather than a pool timeout), then builds the pool and migrates.
pub(super) async fn open_pool(url: &str, options: PgConnectOptions) -> Result<PgPool, StoreError> {
    let probe = PgConnection::connect_with(&options)
        .await
        .map_err(|error| open_error(url, error))?;
    let _ = probe.close().await;
    let server_port = options.get_port();
    let pool = PgPoolOptions::new()
        .max_connections(POOL_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                conn.execute(DURABLE_SESSION).await?;
                super::nodelay::apply(conn, server_port).await;
                Ok(())
            })
        })
        .connect_lazy_with(options);
    if let Err(error) = MIGRATOR.run(&pool).await {
        pool.close().await;
        return Err(StoreError::Setup(format!(
            "migrating the database {}: {error}",
            redact_url(url)
        )));
    }
    Ok(pool)
}

/// Connects like [`open_pool`], but to read only: sessions are read-only
/// (`default_transaction_read_only`) and nothing is migrated; the database must already hold
/// the schema this build migrates to.
pub(super) async fn open_existing_pool(
    url: &str,
    options: PgConnectOptions,
) -> Result<PgPool, StoreError> {
    let options = options.options([("default_transaction_read_only", "on")]);
    let probe = PgConnection::connect_with(&options)
        .await
        .map_err(|error| open_error(url, error))?;
    let _ = probe.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options);
    schema::verify_pool(&pool, &MIGRATOR, url).await?;
    Ok(pool)
}

/// The SQLSTATE of a database error, if it is one.
fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(db) => db.code().map(|code| code.into_owned()),
        _ => None,
    }
}

/// Whether a SQLSTATE means "try again later": the connection or server went away or is
/// starting, resources ran out, or the transaction lost a deadlock or serialization race.
fn is_transient(state: &str) -> bool {
    state.starts_with("08") // connection exception
        || state.starts_with("53") // insufficient resources (disk full, too many connections)
        || state.starts_with("57P") // admin/crash shutdown, cannot connect now
        || matches!(state, "40001" | "40P01" | "55P03")
}

/// Classifies a run-time database error: undecodable rows and damaged data are `Corrupt`,
/// everything else (connection lost, pool timed out, server restarting, deadlock, …) is
/// `Unavailable`, which callers retry later.
pub(super) fn db_error(error: sqlx::Error) -> StoreError {
    if sqlstate(&error).is_some_and(|state| state.starts_with("XX00")) {
        return StoreError::Corrupt(format!("the database reports damaged data: {error}"));
    }
    match error {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => {
            StoreError::Corrupt(format!("a stored row does not decode: {error}"))
        }
        other => StoreError::Unavailable(other),
    }
}

/// Classifies an error while connecting: an unreachable or busy server is `Unavailable`; bad
/// credentials, a missing database, bad TLS settings and the like are `Setup`.
pub(super) fn open_error(url: &str, error: sqlx::Error) -> StoreError {
    let transient = sqlstate(&error).is_some_and(|state| is_transient(&state))
        || matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut);
    if transient {
        StoreError::Unavailable(error)
    } else {
        StoreError::Setup(format!("connecting to {}: {error}", redact_url(url)))
    }
}

/// Starts a transaction.
pub(super) async fn begin(pool: &PgPool) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin().await.map_err(db_error)
}

/// Commits a transaction (durable on return).
pub(super) async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    tx.commit().await.map_err(db_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_fail_as_setup_without_the_password() {
        let options = connect_options("postgres://calsync:s3cret@db.internal:6432/calsync")
            .expect("a valid URL");
        assert_eq!(options.get_host(), "db.internal");
        assert_eq!(options.get_port(), 6432);
        assert_eq!(options.get_database(), Some("calsync"));
        assert_eq!(options.get_application_name(), Some(APPLICATION_NAME));
        let named = connect_options("postgresql://h/db?application_name=replica-a").unwrap();
        assert_eq!(named.get_application_name(), Some("replica-a"));
        assert!(connect_options("postgres://h/db?sslmode=verify-full").is_ok());

        for bad in [
            "sqlite://calsync.db",
            "postgres://calsync:s3cret@h/db?sslmode=sideways",
            "postgres://calsync:s3cret@h:notaport/db",
        ] {
            match connect_options(bad) {
                Err(StoreError::Setup(message)) => {
                    assert!(!message.contains("s3cret"), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn errors_are_classified() {
        assert!(matches!(
            db_error(sqlx::Error::ColumnNotFound("generation".into())),
            StoreError::Corrupt(_)
        ));
        assert!(matches!(
            db_error(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
        let refused = sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(
            open_error("postgres://u:p@h/db", refused),
            StoreError::Unavailable(_)
        ));
        let tls = sqlx::Error::Tls("bad certificate".into());
        match open_error("postgres://u:s3cret@h/db", tls) {
            StoreError::Setup(message) => assert!(!message.contains("s3cret"), "{message}"),
            other => panic!("{other:?}"),
        }
        for state in ["08006", "53300", "57P01", "57P03", "40P01", "40001"] {
            assert!(is_transient(state), "{state}");
        }
        for state in ["28P01", "3D000", "42P01", "23505"] {
            assert!(!is_transient(state), "{state}");
        }
    }
}
