//! The meeting ledger (issue 9): grants' copies of meetings and each meeting's record key, on
//! every backend; a database written with the first schema (0001, before meetings existed)
//! upgrading in place; and (PostgreSQL) replicas binding one meeting at the same moment.

use std::path::Path;
use std::sync::Arc;

use calsync::store::postgres::PostgresStore;
use calsync::store::{self, CopyStatus, MeetingCopy, MeetingLedger, Store, SyncState};
use futures::future::join_all;
use serde_json::json;
use sqlx::migrate::Migrator;

use super::{Backend, at};
use crate::support::postgres::TestDatabase;

fn copy(grant: &str, event: &str, meeting: &str, status: CopyStatus) -> MeetingCopy {
    MeetingCopy {
        grant_id: grant.into(),
        event_id: event.into(),
        meeting_key: meeting.into(),
        status,
        version: Some(1_700_000_000),
        calendar_id: Some("cal-1".into()),
        content: Some(json!({"meeting_subject": "Demo", "from": grant})),
        content_hash: Some(format!("hash-{grant}")),
        updated_at: at(3),
    }
}

pub async fn copies_round_trip_and_the_first_binds_the_record_key(backend: Backend) {
    let ledger: &dyn MeetingLedger = &*backend.store;
    assert_eq!(ledger.copy(&"a".into(), &"e1".into()).await.unwrap(), None);
    assert_eq!(ledger.record_key(&"ical:m".into()).await.unwrap(), None);

    let organizer = copy("a", "e1", "ical:m", CopyStatus::Live);
    assert_eq!(ledger.record_copy(&organizer, at(3)).await.unwrap(), "e1");
    assert_eq!(
        ledger.copy(&"a".into(), &"e1".into()).await.unwrap(),
        Some(organizer.clone())
    );
    let attendee = copy("b", "e2", "ical:m", CopyStatus::Cancelled);
    assert_eq!(
        ledger.record_copy(&attendee, at(4)).await.unwrap(),
        "e1",
        "a second copy gets the meeting's record key"
    );
    assert_eq!(
        ledger.record_key(&"ical:m".into()).await.unwrap(),
        Some("e1".into())
    );
    assert_eq!(
        ledger.copies_of_meeting(&"ical:m".into()).await.unwrap(),
        vec![organizer.clone(), attendee.clone()]
    );

    // Google: another grant's copy with the same event id is another row.
    let shared = copy("c", "e1", "ical:m", CopyStatus::Live);
    ledger.record_copy(&shared, at(5)).await.unwrap();
    assert_eq!(
        ledger.copies_of_event(&"e1".into()).await.unwrap(),
        vec![organizer.clone(), shared]
    );

    // Recording replaces the copy; a deleted copy keeps its content; the binding never moves.
    let deleted = MeetingCopy {
        status: CopyStatus::Deleted,
        version: None,
        calendar_id: None,
        content_hash: None,
        updated_at: at(6),
        ..organizer
    };
    assert_eq!(ledger.record_copy(&deleted, at(6)).await.unwrap(), "e1");
    assert_eq!(
        ledger.copy(&"a".into(), &"e1".into()).await.unwrap(),
        Some(deleted.clone())
    );
    let moved = MeetingCopy {
        meeting_key: "ical:other".into(),
        ..copy("b", "e2", "", CopyStatus::Live)
    };
    assert_eq!(
        ledger.record_copy(&moved, at(7)).await.unwrap(),
        "e2",
        "a new meeting binds the event id of its first copy"
    );
    assert_eq!(
        ledger
            .copies_of_meeting(&"ical:m".into())
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(
        ledger.record_key(&"ical:m".into()).await.unwrap(),
        Some("e1".into())
    );

    let reopened = store::open(&backend.url).await.unwrap();
    assert_eq!(
        reopened.copy(&"a".into(), &"e1".into()).await.unwrap(),
        Some(deleted)
    );
}

/// Opens `url` with only the first migration applied (as calsync before meetings wrote it) and
/// leaves a record in it; then opens it as this calsync does.
async fn upgrade_from_the_first_schema(url: &str, first: &Path) -> Arc<dyn Store> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(first, dir.path().join("0001_initial.sql")).unwrap();
    let migrator = Migrator::new(dir.path()).await.unwrap();
    let record = SyncState {
        target: "rest:crm".into(),
        record_key: "evt-legacy".into(),
        crm_record_id: Some("crm-1".into()),
        version: Some(100),
        content_hash: Some("old-hash".into()),
        ..SyncState::default()
    };
    if url.starts_with("sqlite:") {
        let options: sqlx::sqlite::SqliteConnectOptions = url.parse().unwrap();
        let pool = sqlx::SqlitePool::connect_with(options.create_if_missing(true))
            .await
            .unwrap();
        migrator.run(&pool).await.unwrap();
        insert_state_sqlite(&pool, &record).await;
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        migrator.run(&pool).await.unwrap();
        sqlx::query(
            "INSERT INTO sync_state (target, record_key, crm_record_id, version, content_hash)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(record.target.as_str())
        .bind(record.record_key.as_str())
        .bind(record.crm_record_id.as_ref().map(|id| id.as_str()))
        .bind(record.version)
        .bind(&record.content_hash)
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }
    let upgraded = store::open(url).await.expect("the old database upgrades");
    assert_eq!(
        upgraded
            .load_state(&"rest:crm".into(), &"evt-legacy".into())
            .await
            .unwrap(),
        Some(record),
        "existing records are kept"
    );
    let legacy = copy("a", "evt-legacy", "ical:legacy", CopyStatus::Live);
    assert_eq!(
        upgraded.record_copy(&legacy, at(1)).await.unwrap(),
        "evt-legacy",
        "the event's record becomes its meeting's record"
    );
    upgraded
}

async fn insert_state_sqlite(pool: &sqlx::SqlitePool, record: &SyncState) {
    sqlx::query(
        "INSERT INTO sync_state (target, record_key, crm_record_id, version, content_hash)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(record.target.as_str())
    .bind(record.record_key.as_str())
    .bind(record.crm_record_id.as_ref().map(|id| id.as_str()))
    .bind(record.version)
    .bind(&record.content_hash)
    .execute(pool)
    .await
    .unwrap();
}

fn first_migration(backend: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/store/migrations")
        .join(backend)
        .join("0001_initial.sql")
}

#[tokio::test]
async fn a_sqlite_database_of_the_first_schema_upgrades_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("calsync.db").display());
    let store = upgrade_from_the_first_schema(&url, &first_migration("sqlite")).await;
    store.close().await;
    store::open_existing(&url)
        .await
        .expect("the upgraded schema is this calsync's");
}

#[tokio::test]
async fn a_postgres_database_of_the_first_schema_upgrades_in_place() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    let store = upgrade_from_the_first_schema(&database.url, &first_migration("postgres")).await;
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_recording_two_copies_of_one_meeting_at_once_agree_on_its_record() {
    let Some(database) = TestDatabase::create().await else {
        return;
    };
    for round in 0..20 {
        let replicas = [
            PostgresStore::open(&database.url).await.unwrap(),
            PostgresStore::open(&database.url).await.unwrap(),
        ];
        let meeting = format!("ical:race-{round}");
        let copies = [
            copy(
                "organizer",
                &format!("e-{round}-a"),
                &meeting,
                CopyStatus::Live,
            ),
            copy(
                "attendee",
                &format!("e-{round}-b"),
                &meeting,
                CopyStatus::Live,
            ),
        ];
        let bound = join_all(
            replicas
                .iter()
                .zip(&copies)
                .map(|(replica, copy)| replica.record_copy(copy, at(1))),
        )
        .await;
        let bound: Vec<_> = bound.into_iter().map(Result::unwrap).collect();
        assert_eq!(bound[0], bound[1], "round {round}: one record key");
        for replica in &replicas {
            replica.close().await;
        }
    }
}
