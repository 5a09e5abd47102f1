//! Opening the SQLite database and classifying its errors: the connection pools, pragmas,
//! migrations, write transactions, and the mapping of SQLite failures to [`StoreError`].
//!
//! Invariants: every connection runs in WAL mode with `synchronous=FULL`, foreign keys on and a
//! busy timeout; all writes share one connection; a write transaction that reads first begins
//! with `BEGIN IMMEDIATE`; migrations have run before a pool is handed out.

use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};

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

/// The two pools of an open database.
pub(super) struct Pools {
    /// One connection: every write goes through it.
    pub(super) write: SqlitePool,
    /// Connections for reads (the write connection itself for an in-memory database).
    pub(super) read: SqlitePool,
}

/// Opens (creating if allowed) and migrates the database the URL names.
pub(super) async fn open_pools(url: &str) -> Result<Pools, StoreError> {
    let (options, in_memory) = connect_options(url)?;
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect_with(options.clone())
        .await
        .map_err(|error| open_error(url, error))?;
    MIGRATOR.run(&write).await.map_err(|error| {
        StoreError::Setup(format!(
            "migrating the database {}: {error}",
            redact_url(url)
        ))
    })?;
    let read = if in_memory {
        write.clone()
    } else {
        SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|error| open_error(url, error))?
    };
    Ok(Pools { write, read })
}

/// Opens the database file the URL names to read it: never creates the file, never migrates,
/// never writes (`query_only` connections that set no journal mode). The file must exist and
/// hold the schema this build migrates to. Close the pool when done: the last connection to
/// close removes the `-wal` and `-shm` files it may have created.
pub(super) async fn open_existing_pools(url: &str) -> Result<Pools, StoreError> {
    let (options, in_memory) = connect_options(url)?;
    if in_memory {
        return Err(StoreError::Setup(format!(
            "{} is an in-memory database: it exists only inside the process that opened it",
            redact_url(url)
        )));
    }
    let path = options.get_filename().to_path_buf();
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
    })
}

/// Parses the URL into connection options with calsync's pragmas; also says whether the
/// database lives in memory.
fn connect_options(url: &str) -> Result<(SqliteConnectOptions, bool), StoreError> {
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
        .foreign_keys(true);
    let options = match mode.as_deref() {
        Some("ro") | Some("rw") => options,
        _ => options.create_if_missing(true),
    };
    Ok((options, in_memory))
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
mod tests {
    use super::*;
    use sqlx::Connection;

    fn file_url(dir: &tempfile::TempDir) -> String {
        format!("sqlite://{}", dir.path().join("calsync.db").display())
    }

    #[test]
    fn urls_parse_or_fail_as_setup() {
        assert!(!connect_options("sqlite://calsync.db").unwrap().1);
        assert!(!connect_options("sqlite:///var/lib/calsync.db").unwrap().1);
        assert!(connect_options("sqlite::memory:").unwrap().1);
        assert!(
            connect_options("sqlite://calsync.db?mode=memory")
                .unwrap()
                .1
        );
        for bad in [
            "sqlite://",
            "sqlite://a.db?mode=sideways",
            "postgres://h/db",
        ] {
            assert!(
                matches!(connect_options(bad), Err(StoreError::Setup(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn opening_a_missing_directory_is_a_setup_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/missing/dir/calsync.db", dir.path().display());
        assert!(matches!(open_pools(&url).await, Err(StoreError::Setup(_))));
    }

    fn listing(dir: &tempfile::TempDir) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[tokio::test]
    async fn an_existing_database_is_read_without_creating_or_leaving_anything() {
        let dir = tempfile::tempdir().unwrap();
        let url = file_url(&dir);
        let missing = open_existing_pools(&url).await.err().expect("no file yet");
        let message = missing.to_string();
        assert!(
            message.contains(&dir.path().join("calsync.db").display().to_string()),
            "{message}"
        );
        assert!(listing(&dir).is_empty(), "{:?}", listing(&dir));

        let created = open_pools(&url).await.unwrap();
        created.read.close().await;
        created.write.close().await;
        let before = listing(&dir);
        let existing = open_existing_pools(&url).await.unwrap();
        sqlx::query("SELECT count(*) FROM jobs")
            .execute(&existing.read)
            .await
            .unwrap();
        let refused = sqlx::query("DELETE FROM jobs")
            .execute(&existing.write)
            .await;
        assert!(refused.is_err(), "a read-only connection wrote");
        existing.read.close().await;
        assert_eq!(listing(&dir), before);
    }

    #[tokio::test]
    async fn a_file_without_the_schema_is_not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("calsync.db"), b"").unwrap();
        let error = open_existing_pools(&file_url(&dir)).await.err().unwrap();
        assert!(error.to_string().contains("no calsync schema"), "{error}");
        assert!(open_existing_pools("sqlite::memory:").await.is_err());
    }

    #[tokio::test]
    async fn opens_in_wal_mode_with_full_sync_and_creates_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let pools = open_pools(&file_url(&dir)).await.unwrap();
        assert!(dir.path().join("calsync.db").exists());
        for pool in [&pools.write, &pools.read] {
            let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(journal, "wal");
            let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(synchronous, 2, "FULL");
            let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(foreign_keys, 1);
        }
    }

    #[tokio::test]
    async fn a_write_transaction_holds_the_lock_and_busy_is_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let url = file_url(&dir);
        let pools = open_pools(&url).await.unwrap();
        let held = begin_write(&pools.write).await.unwrap();

        // Another process that will not wait finds the database busy at BEGIN IMMEDIATE.
        let (options, _) = connect_options(&url).unwrap();
        let mut other = sqlx::SqliteConnection::connect_with(&options.busy_timeout(Duration::ZERO))
            .await
            .unwrap();
        let error = other.begin_with("BEGIN IMMEDIATE").await.unwrap_err();
        assert!(matches!(db_error(error), StoreError::Unavailable(_)));

        commit(held).await.unwrap();
        let tx = other.begin_with("BEGIN IMMEDIATE").await.unwrap();
        tx.commit().await.unwrap();
    }

    #[test]
    fn decode_failures_are_corrupt() {
        let error = sqlx::Error::ColumnNotFound("generation".into());
        assert!(matches!(db_error(error), StoreError::Corrupt(_)));
        assert!(matches!(
            db_error(sqlx::Error::PoolTimedOut),
            StoreError::Unavailable(_)
        ));
    }
}
