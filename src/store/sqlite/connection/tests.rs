//! Tests of opening, pragmas, write transactions, error classification and healing.

use super::*;
use sqlx::Connection;

fn file_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}", dir.path().join("calsync.db").display())
}

#[test]
fn urls_parse_or_fail_as_setup() {
    assert!(!connect_options("sqlite://calsync.db").unwrap().in_memory);
    assert!(
        !connect_options("sqlite:///var/lib/calsync.db")
            .unwrap()
            .in_memory
    );
    assert!(connect_options("sqlite::memory:").unwrap().in_memory);
    assert!(
        connect_options("sqlite://calsync.db?mode=memory")
            .unwrap()
            .in_memory
    );
    assert!(connect_options("sqlite://calsync.db").unwrap().create);
    assert!(
        !connect_options("sqlite://calsync.db?mode=rw")
            .unwrap()
            .create
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
    let options = connect_options(&url).unwrap().options;
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

/// Inserts a cursor row in its own write transaction.
async fn write_cursor(write: &SqlitePool, name: &str) -> Result<(), StoreError> {
    let mut tx = begin_write(write).await?;
    sqlx::query("INSERT INTO cursors (name, value, updated_at) VALUES (?1, 'v', 0)")
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
    commit(tx).await
}

async fn cursor_names(read: &SqlitePool) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM cursors ORDER BY name")
        .fetch_all(read)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_transaction_sqlite_ended_by_itself_does_not_poison_the_write_connection() {
    let dir = tempfile::tempdir().unwrap();
    let pools = open_pools(&file_url(&dir)).await.unwrap();

    // SQLite rolls a transaction back by itself after some errors (a failed COMMIT on a full
    // disk, an I/O error). A ROLLBACK run behind sqlx's back leaves the connection in the same
    // state: no transaction in SQLite, one in sqlx's bookkeeping.
    let mut tx = begin_write(&pools.write).await.unwrap();
    sqlx::query("INSERT INTO cursors (name, value, updated_at) VALUES ('abandoned', 'v', 0)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("ROLLBACK").execute(&mut *tx).await.unwrap();
    drop(tx);

    // The next write starts clean (on a fresh connection), and so does the one after.
    write_cursor(&pools.write, "next").await.unwrap();
    write_cursor(&pools.write, "after").await.unwrap();
    assert_eq!(cursor_names(&pools.read).await, ["after", "next"]);
}

#[tokio::test]
async fn writes_work_again_once_a_full_database_has_room() {
    let dir = tempfile::tempdir().unwrap();
    let pools = open_pools(&file_url(&dir)).await.unwrap();
    write_cursor(&pools.write, "before").await.unwrap();

    // The database cannot grow (the write connection's page limit stands in for a full disk):
    // a large write fails with SQLITE_FULL.
    let pages: i64 = sqlx::query_scalar("PRAGMA page_count")
        .fetch_one(&pools.write)
        .await
        .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "PRAGMA max_page_count = {pages}"
    )))
    .execute(&pools.write)
    .await
    .unwrap();
    let mut tx = begin_write(&pools.write).await.unwrap();
    let full = sqlx::query("INSERT INTO cursors (name, value, updated_at) VALUES ('big', ?1, 0)")
        .bind("x".repeat(64 * 1024))
        .execute(&mut *tx)
        .await
        .map_err(db_error);
    assert!(
        matches!(&full, Err(StoreError::Unavailable(error)) if error.to_string().contains("full")),
        "{full:?}"
    );
    drop(tx);

    // Room again (the limit belonged to the connection the failure retired): writes succeed
    // at once, and nothing of the failed transaction was kept.
    write_cursor(&pools.write, "after").await.unwrap();
    assert_eq!(cursor_names(&pools.read).await, ["after", "before"]);
}

#[tokio::test]
async fn the_pools_never_create_a_deleted_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let url = file_url(&dir);
    let pools = open_pools(&url).await.unwrap();
    let path = dir.path().join("calsync.db");
    std::fs::remove_file(&path).unwrap();

    // A connection opened now (as a pool would) fails instead of creating an empty database.
    let options = connect_options(&url).unwrap().options;
    assert!(SqliteConnection::connect_with(&options).await.is_err());
    assert!(!path.exists());
    pools.write.close().await;
    pools.read.close().await;
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
