//! The JSONL dry run: lines appended whole and parseable, concurrent writers never interleave.

use std::sync::Arc;

use serde_json::Value;

use super::*;
use crate::record::MeetingStatus;

fn record(id: &str, notes: Option<String>) -> MeetingRecord {
    MeetingRecord {
        event_id: id.into(),
        grant_id: "grant_a".into(),
        provider_calendar_id: None,
        meeting_subject: "Demo".into(),
        meeting_status: MeetingStatus::Tentative,
        meeting_date: "2026-07-01T10:00:00Z".parse().unwrap(),
        meeting_end_date: "2026-07-01T10:30:00Z".parse().unwrap(),
        duration_minutes: 30,
        all_day: false,
        timezone: None,
        meeting_location: None,
        meeting_link: None,
        notes,
        organizer_email: None,
        attendees: Vec::new(),
        is_recurring: false,
        master_event_id: None,
        series_label: None,
        ical_uid: None,
        source_updated_at: None,
        private: false,
        owner_email: None,
    }
}

fn adapter(path: PathBuf) -> JsonlAdapter {
    JsonlAdapter::new(&JsonlCrmSettings { path })
}

fn lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[tokio::test]
async fn writes_one_line_per_operation_creating_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/dir/dry-run.jsonl");
    let crm = adapter(path.clone());
    assert_eq!(crm.kind(), "jsonl");
    assert_eq!(crm.target().as_str(), format!("jsonl:{}", path.display()));

    let created = crm
        .upsert(&record("evt_1", None), ExistingRecord::None)
        .await
        .unwrap();
    assert_eq!(
        created,
        UpsertOutcome {
            crm_record_id: "evt_1".into(),
            created: true
        }
    );
    let updated = crm
        .upsert(
            &record("evt_1", None),
            ExistingRecord::Known(&"evt_1".into()),
        )
        .await
        .unwrap();
    assert!(!updated.created);
    let uncertain = crm
        .upsert(&record("evt_2", None), ExistingRecord::Uncertain)
        .await
        .unwrap();
    assert_eq!(
        uncertain,
        UpsertOutcome {
            crm_record_id: "evt_2".into(),
            created: false
        }
    );
    crm.soft_delete(&"evt_1".into(), &"evt_1".into())
        .await
        .unwrap();

    let written = lines(&path);
    assert_eq!(written.len(), 4);
    let existing: Vec<&str> = written[..3]
        .iter()
        .map(|line| line["existing"].as_str().unwrap())
        .collect();
    assert_eq!(existing, ["none", "known", "uncertain"]);
    assert_eq!(written[0]["op"], "upsert");
    assert_eq!(
        written[0]["record"],
        serde_json::to_value(record("evt_1", None)).unwrap()
    );
    assert_eq!(written[3]["op"], "soft_delete");
    assert_eq!(written[3]["external_event_id"], "evt_1");
    for line in &written {
        let at = line["at"].as_str().unwrap();
        assert!(at.parse::<Timestamp>().is_ok() && at.ends_with('Z'), "{at}");
    }
}

#[tokio::test]
async fn appends_to_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dry-run.jsonl");
    std::fs::write(&path, "{\"op\":\"earlier\"}\n").unwrap();
    adapter(path.clone())
        .soft_delete(&"evt_9".into(), &"evt_9".into())
        .await
        .unwrap();
    let written = lines(&path);
    assert_eq!(written.len(), 2);
    assert_eq!(written[0]["op"], "earlier");
    assert_eq!(written[1]["external_event_id"], "evt_9");
}

/// Characters of `notes` per record: over 2 MiB.
const LINE: usize = 2_300_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_never_interleave() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dry-run.jsonl");
    let crm = Arc::new(adapter(path.clone()));
    // Lines larger than tokio's 2 MiB write chunk (so each takes several write calls), from
    // several tasks at once.
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let crm = Arc::clone(&crm);
            let notes = Some(n.to_string().repeat(LINE));
            tokio::spawn(async move {
                crm.upsert(&record(&format!("evt_{n}"), notes), ExistingRecord::None)
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let written = lines(&path);
    assert_eq!(written.len(), 8);
    let mut ids: Vec<String> = written
        .iter()
        .map(|line| {
            let record = &line["record"];
            let id = record["external_event_id"].as_str().unwrap();
            let n = id.trim_start_matches("evt_");
            assert_eq!(record["notes"].as_str().unwrap(), n.repeat(LINE));
            id.to_owned()
        })
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 8);
}

#[tokio::test]
async fn check_creates_nothing_and_reports_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dry-run.jsonl");
    adapter(path.clone()).check().await.unwrap();
    assert!(
        !dir.path().join("sub").exists(),
        "check created the directory"
    );

    // An existing file passes and is left exactly as it was.
    std::fs::write(dir.path().join("kept.jsonl"), "{}\n").unwrap();
    adapter(dir.path().join("kept.jsonl"))
        .check()
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("kept.jsonl")).unwrap(),
        b"{}\n"
    );
    let entries = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(entries, 1, "only the file the test wrote");

    // A directory is not a file.
    let error = adapter(dir.path().to_path_buf()).check().await.unwrap_err();
    let shown = crate::cause::Chain(&error).to_string();
    assert!(shown.contains("is a directory"), "{shown}");

    // A path under a regular file can never be opened.
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "x").unwrap();
    let broken = adapter(blocker.join("dry-run.jsonl"));
    let error = broken.check().await.unwrap_err();
    assert!(
        matches!(
            error,
            CrmError::Io {
                operation: "jsonl check",
                ..
            }
        ),
        "{error:?}"
    );
    let shown = crate::cause::Chain(&error).to_string();
    assert!(shown.contains("a-file"), "{shown}");
    let error = broken
        .soft_delete(&"e".into(), &"e".into())
        .await
        .unwrap_err();
    assert!(matches!(error, CrmError::Io { .. }), "{error:?}");
    assert_eq!(error.retry(), crate::retry::Retry::After(None));
}

#[tokio::test(start_paused = true)]
async fn lines_are_stamped_by_the_clock() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.jsonl");
    let clock = Clock::tokio();
    let adapter = adapter(path.clone()).with_clock(clock);
    tokio::time::advance(std::time::Duration::from_secs(3600)).await;
    adapter
        .soft_delete(&"evt-1".into(), &"evt-1".into())
        .await
        .unwrap();
    let at: Timestamp = lines(&path)[0]["at"].as_str().unwrap().parse().unwrap();
    assert_eq!(at, clock.now());
    assert!(
        at.duration_since(Timestamp::now()).as_secs() >= 3599,
        "{at}"
    );
}
