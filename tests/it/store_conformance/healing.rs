//! Healing: after failed commits the store returns to a clean state by itself, and ingest,
//! claims and completions succeed again as soon as the cause goes away.
//!
//! The failures are real database errors, switched on and off from a separate connection
//! ([`Faults`]): on PostgreSQL a deferred constraint trigger fails the COMMIT itself with
//! `disk_full`; on SQLite a trigger raises `RAISE(ROLLBACK)`, which ends the transaction inside
//! SQLite as a full disk or an I/O error at COMMIT does — the case that left sqlx counting a
//! transaction SQLite no longer had, and the store refusing every write until restart.

use calsync::store::{Completion, IngestOutcome, JobStats, NotificationFilter, StoreError};
use sqlx::{Connection, Executor, PgConnection, SqliteConnection};

use super::{Backend, LEASE, at, notification, upsert};
use crate::support::postgres::TestDatabase;

/// Makes writes to `notifications` and `jobs` fail (or work again) on command.
enum Faults {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

const SQLITE_FAULTS: &str = "
    CREATE TABLE test_faults (failing INTEGER NOT NULL);
    INSERT INTO test_faults VALUES (0);
    CREATE TRIGGER test_fail_notifications BEFORE INSERT ON notifications
        WHEN (SELECT failing FROM test_faults) = 1
        BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (injected)'); END;
    CREATE TRIGGER test_fail_job_updates BEFORE UPDATE ON jobs
        WHEN (SELECT failing FROM test_faults) = 1
        BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (injected)'); END;
    CREATE TRIGGER test_fail_job_deletes BEFORE DELETE ON jobs
        WHEN (SELECT failing FROM test_faults) = 1
        BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full (injected)'); END;";

const POSTGRES_FAULTS: &str = "
    CREATE TABLE test_faults (failing boolean NOT NULL);
    INSERT INTO test_faults VALUES (false);
    CREATE FUNCTION test_fail() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF (SELECT failing FROM test_faults) THEN
            RAISE EXCEPTION 'could not extend file: No space left on device (injected)'
                USING ERRCODE = 'disk_full';
        END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER test_fail_notifications AFTER INSERT ON notifications
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail();
    CREATE CONSTRAINT TRIGGER test_fail_jobs AFTER UPDATE OR DELETE ON jobs
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_fail();";

impl Faults {
    /// Installs the switch (off) in the database at `url`.
    async fn install(url: &str) -> Faults {
        if url.starts_with("sqlite:") {
            let mut conn = SqliteConnection::connect(url).await.unwrap();
            conn.execute(SQLITE_FAULTS).await.unwrap();
            Faults::Sqlite(conn)
        } else {
            let mut conn = PgConnection::connect(url).await.unwrap();
            conn.execute(POSTGRES_FAULTS).await.unwrap();
            Faults::Postgres(conn)
        }
    }

    async fn fail(&mut self, failing: bool) {
        let sql = "UPDATE test_faults SET failing = $1";
        match self {
            Faults::Sqlite(conn) => {
                let query = sqlx::query(sql).bind(i64::from(failing));
                query.execute(conn).await.unwrap();
            }
            Faults::Postgres(conn) => {
                sqlx::query(sql).bind(failing).execute(conn).await.unwrap();
            }
        };
    }
}

fn unavailable<T: std::fmt::Debug>(result: Result<T, StoreError>) {
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "expected a failed commit, got {result:?}"
    );
}

pub async fn heals_after_failed_commits(backend: Backend) {
    let store = &backend.store;
    let mut faults = Faults::install(&backend.url).await;
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    let held = store.claim("w1", at(0), LEASE, 10).await.unwrap().remove(0);

    faults.fail(true).await;
    let second = notification("n2", Some(upsert("e2", 1)));
    for _ in 0..3 {
        unavailable(store.ingest(std::slice::from_ref(&second), at(1)).await);
    }
    // The lease expired: a new claim must update the job, and fails.
    unavailable(store.claim("w2", at(61), LEASE, 10).await);
    unavailable(store.complete(&held.lease, at(61)).await);

    // The cause goes away: the very next completion, ingest and claim succeed. (Completion
    // first: PostgreSQL may report a failed commit a moment before it releases the row locks,
    // and a claim skips locked rows.)
    faults.fail(false).await;
    let done = store.complete(&held.lease, at(62)).await.unwrap();
    assert_eq!(done, Completion::Finished);
    let outcomes = store
        .ingest(std::slice::from_ref(&second), at(62))
        .await
        .unwrap();
    assert_eq!(outcomes, [IngestOutcome::Accepted]);
    let claimed = store.claim("w2", at(62), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 1, "e2");
    let done = store.complete(&claimed[0].lease, at(63)).await.unwrap();
    assert_eq!(done, Completion::Finished);

    // Nothing of the failed attempts was kept: each notification is stored once.
    assert_eq!(store.job_stats(at(63)).await.unwrap(), JobStats::default());
    let again = store
        .ingest(&[notification("n1", None), second], at(64))
        .await
        .unwrap();
    assert_eq!(again, [IngestOutcome::Duplicate, IngestOutcome::Duplicate]);
    let filter = NotificationFilter::default();
    assert_eq!(store.list_notifications(&filter).await.unwrap().len(), 2);
}

/// PostgreSQL: when the server drops every connection (a restart, a failover, an administrator),
/// the pool replaces them and the next operations succeed.
#[tokio::test]
async fn postgres_heals_after_the_server_drops_its_connections() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = calsync::store::open(&database.url).await.unwrap();
    store
        .ingest(&[notification("n1", Some(upsert("e1", 1)))], at(0))
        .await
        .unwrap();
    let mut admin = PgConnection::connect(&database.url).await.unwrap();
    let dropped: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!dropped.is_empty() && dropped.iter().all(|ok| *ok));

    store
        .ingest(&[notification("n2", Some(upsert("e2", 1)))], at(1))
        .await
        .unwrap();
    let claimed = store.claim("w1", at(1), LEASE, 10).await.unwrap();
    assert_eq!(claimed.len(), 2);
    for job in &claimed {
        store.complete(&job.lease, at(2)).await.unwrap();
    }
    assert_eq!(store.job_stats(at(2)).await.unwrap(), JobStats::default());
    let _ = admin.close().await;
}
