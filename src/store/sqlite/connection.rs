//! Opening the SQLite database and classifying its errors: the connection pools, pragmas,
//! migrations, write transactions, and the mapping of SQLite failures to [`StoreError`].
//!
//! Invariants: every connection runs in WAL mode with `synchronous=FULL`, foreign keys on and a
//! busy timeout; all writes share one connection; a write transaction that reads first begins
//! with `BEGIN IMMEDIATE`; migrations have run before a pool is handed out.
//!
//! Healing: the write connection is checked each time it returns to its pool, and replaced when a
//! failed transaction left it unusable (see [`keep_write_connection`]), so after any failed
//! commit (disk full, I/O error, lock timeout) the next write starts clean on a fresh connection.
//! Only the open creates a missing database file; the pools' later connections never do, so a
//! file deleted under the running process is noticed ([`super::file`]) rather than silently
//! replaced by an empty one.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Connection, Sqlite, Transaction};

use super::file::DatabaseFile;
use crate::store::schema;
use crate::store::{StoreError, redact_url};

/// How long a statement waits for another process's write lock before failing as busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections in the read pool.
const READ_CONNECTIONS: u32 = 4;

/// The embedded migrations (`src/store/migrations/sqlite`), run at open.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("src/store/migrations/sqlite");

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_IOERR: i32 = 10;
const SQLITE_CORRUPT: i32 = 11;
const SQLITE_FULL: i32 = 13;
const SQLITE_NOTADB: i32 = 26;

/// The pools of an open database, and the file they opened.
pub(super) struct Pools {
    /// One connection: every write goes through it.
    pub(super) write: SqlitePool,
    /// Connections for reads (the write connection itself for an in-memory database).
    pub(super) read: SqlitePool,
    /// The database file (`None` in memory).
    pub(super) file: Option<DatabaseFile>,
}

/// What a URL names: connection options (never creating a missing file) and how to open them.
struct Target {
    options: SqliteConnectOptions,
    in_memory: bool,
    /// Whether a missing database file may be created (not with `mode=ro` or `mode=rw`).
    create: bool,
}

/// Opens (creating if allowed) and migrates the database the URL names.
pub(super) async fn open_pools(url: &str) -> Result<Pools, StoreError> {
    let target = connect_options(url)?;
    if target.in_memory {
        // One connection holds the whole database: it is never replaced (a new one would be
        // empty), and it serves reads too.
        let write = write_pool_options()
            .connect_with(target.options)
            .await
            .map_err(|error| open_error(url, error))?;
        migrate(url, &write).await?;
        let read = write.clone();
        return Ok(Pools {
            write,
            read,
            file: None,
        });
    }
    if target.create {
        create_file(url, &target.options).await?;
    }
    let write = write_pool_options()
        .after_release(|conn, _meta| Box::pin(keep_write_connection(conn)))
        .connect_with(target.options.clone())
        .await
        .map_err(|error| open_error(url, error))?;
    migrate(url, &write).await?;
    let read = SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .connect_with(target.options.clone())
        .await
        .map_err(|error| open_error(url, error))?;
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&write)
        .await
        .map_err(|error| open_error(url, error))?;
    let file = DatabaseFile::open(
        target.options.get_filename(),
        journal.eq_ignore_ascii_case("wal"),
        write.clone(),
    )?;
    Ok(Pools {
        write,
        read,
        file: Some(file),
    })
}

/// Opens the database file the URL names to read it: never creates the file, never migrates,
/// never writes (`query_only` connections that set no journal mode). The file must exist and
/// hold the schema this build migrates to. Close the pool when done: the last connection to
/// close removes the `-wal` and `-shm` files it may have created.
pub(super) async fn open_existing_pools(url: &str) -> Result<Pools, StoreError> {
    let target = connect_options(url)?;
    if target.in_memory {
        return Err(StoreError::Setup(format!(
            "{} is an in-memory database: it exists only inside the process that opened it",
            redact_url(url)
        )));
    }
    let path = target.options.get_filename().to_path_buf();
    if !path.is_file() {
        return Err(StoreError::Setup(format!(
            "there is no SQLite database at {} (store.url = {}): calsync serve creates it when it first starts",
            path.display(),
            redact_url(url)
        )));
    }
    // Not `read_only`: SQLite would leave the `-wal` and `-shm` files of a WAL database behind
    // (only a read-write connection removes them when the last one closes); `query_only`
    // refuses every write instead.
    let read_only = SqliteConnectOptions::from_str(url)
        .map_err(|error| open_error(url, error))?
        .pragma("query_only", "ON")
        .busy_timeout(BUSY_TIMEOUT);
    let read = SqlitePoolOptions::new()
        .max_connections(READ_CONNECTIONS)
        .connect_with(read_only)
        .await
        .map_err(|error| open_error(url, error))?;
    schema::verify_pool(&read, &MIGRATOR, url).await?;
    Ok(Pools {
        write: read.clone(),
        read,
        file: None,
    })
}

/// The single-connection pool every write goes through.
fn write_pool_options() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
}

/// Runs the embedded migrations.
async fn migrate(url: &str, write: &SqlitePool) -> Result<(), StoreError> {
    MIGRATOR.run(write).await.map_err(|error| {
        StoreError::Setup(format!(
            "migrating the database {}: {error}",
            redact_url(url)
        ))
    })
}

/// Creates the database file if it is missing (only here, at open: the pools never create one,
/// so a file deleted while running is noticed instead of silently replaced by an empty one).
async fn create_file(url: &str, options: &SqliteConnectOptions) -> Result<(), StoreError> {
    let path = options.get_filename();
    if path.exists() {
        return Ok(());
    }
    tracing::info!(path = %path.display(), "Creating a new SQLite database.");
    let created = SqliteConnection::connect_with(&options.clone().create_if_missing(true))
        .await
        .map_err(|error| open_error(url, error))?;
    created
        .close()
        .await
        .map_err(|error| open_error(url, error))
}

/// Decides, as the write connection returns to its pool, whether it can be used again: not when
/// a failed transaction left it unusable. When SQLite ends a transaction by itself after an error
/// (a failed COMMIT on a full disk, an I/O error), sqlx still counts the transaction as open: its
/// queued ROLLBACK then fails ("no transaction is active") and every later `BEGIN` on the
/// connection is refused ("attempted to call begin_with at non-zero transaction depth"). Such a
/// connection is closed, and the pool opens a fresh one for the next write.
async fn keep_write_connection(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    // Commands run in order: once the ping is answered, the rollback queued by a dropped
    // transaction has run (or failed).
    conn.ping().await?;
    if conn.is_in_transaction() {
        tracing::warn!(
            "Replacing the SQLite write connection: a failed transaction could not be rolled \
             back on it."
        );
        return Ok(false);
    }
    Ok(true)
}

/// Parses the URL into connection options with calsync's pragmas (see [`Target`]).
fn connect_options(url: &str) -> Result<Target, StoreError> {
    let setup = |problem: String| {
        StoreError::Setup(format!("invalid SQLite URL {}: {problem}", redact_url(url)))
    };
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| setup("expected sqlite://PATH".into()))?;
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let mode = url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == "mode")
        .map(|(_, value)| value.into_owned());
    let in_memory = path == ":memory:" || mode.as_deref() == Some("memory");
    if path.is_empty() && !in_memory {
        return Err(setup("no database path".into()));
    }
    let options = SqliteConnectOptions::from_str(url)
        .map_err(|error| setup(error.to_string()))?
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .create_if_missing(in_memory);
    let create = !matches!(mode.as_deref(), Some("ro") | Some("rw"));
    Ok(Target {
        options,
        in_memory,
        create,
    })
}

/// The primary SQLite result code of a database error, if it is one.
fn primary_code(error: &sqlx::Error) -> Option<i32> {
    match error {
        sqlx::Error::Database(db) => db
            .code()
            .and_then(|code| code.parse::<i32>().ok())
            .map(|code| code & 0xff),
        _ => None,
    }
}

/// Classifies a run-time database error (see the module docs).
pub(super) fn db_error(error: sqlx::Error) -> StoreError {
    if matches!(primary_code(&error), Some(SQLITE_CORRUPT | SQLITE_NOTADB)) {
        return StoreError::Corrupt(format!("the database file is damaged: {error}"));
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

/// Classifies an error while opening: transient trouble is `Unavailable`, the rest `Setup`.
fn open_error(url: &str, error: sqlx::Error) -> StoreError {
    let transient = matches!(
        primary_code(&error),
        Some(SQLITE_BUSY | SQLITE_LOCKED | SQLITE_IOERR | SQLITE_FULL)
    ) || matches!(error, sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut);
    if transient {
        StoreError::Unavailable(error)
    } else {
        StoreError::Setup(format!("opening the database {}: {error}", redact_url(url)))
    }
}

/// Starts a write transaction holding the write lock from the start.
pub(super) async fn begin_write(
    write: &SqlitePool,
) -> Result<Transaction<'static, Sqlite>, StoreError> {
    write.begin_with("BEGIN IMMEDIATE").await.map_err(db_error)
}

/// Commits a write transaction (durable on return).
pub(super) async fn commit(tx: Transaction<'static, Sqlite>) -> Result<(), StoreError> {
    tx.commit().await.map_err(db_error)
}

#[cfg(test)]
mod tests;
