use jiff::Timestamp;
use serde_json::json;

use super::*;

fn copy(grant: &str, event: &str, status: CopyStatus, version: i64) -> MeetingCopy {
    MeetingCopy {
        grant_id: grant.into(),
        event_id: event.into(),
        meeting_key: "ical:m@x".into(),
        status,
        version: Some(version),
        calendar_id: None,
        content: Some(json!({"from": grant})),
        content_hash: None,
        updated_at: Timestamp::UNIX_EPOCH,
    }
}

fn event(value: serde_json::Value) -> Event {
    serde_json::from_value(value).unwrap()
}

#[test]
fn the_key_is_the_uid_plus_the_original_start_else_the_event_id() {
    let single = event(json!({"id": "e1", "ical_uid": " uid-1@x "}));
    assert_eq!(meeting_key(&single), "ical:uid-1@x");
    let occurrence =
        event(json!({"id": "e2", "ical_uid": "uid-1@x", "original_start_time": 1_700}));
    assert_eq!(meeting_key(&occurrence), "ical:uid-1@x#occurrence:1700");
    let unnamed = event(json!({"id": "e2b", "ical_uid": "uid-1@x", "master_event_id": "m"}));
    assert_eq!(
        meeting_key(&unnamed),
        "event:e2b",
        "never merged with its siblings"
    );
    let bare = event(json!({"id": "e3", "ical_uid": ""}));
    assert_eq!(meeting_key(&bare), "event:e3");
    assert_eq!(event_key("e3"), "event:e3");
}

#[test]
fn one_live_copy_keeps_the_meeting_live() {
    let copies = [
        copy("a", "e", CopyStatus::Live, 100),
        copy("b", "e", CopyStatus::Deleted, 200),
    ];
    assert_eq!(resolve(&copies, &[], None), Resolution::Live(&copies[0]));
}

#[test]
fn cancelled_wins_over_deleted_and_all_deleted_is_removed_with_the_newest_content() {
    let copies = [
        copy("a", "e1", CopyStatus::Deleted, 300),
        copy("b", "e2", CopyStatus::Cancelled, 200),
    ];
    assert_eq!(
        resolve(&copies, &[], None),
        Resolution::Cancelled(&copies[1])
    );
    let mut gone = [
        copy("a", "e1", CopyStatus::Deleted, 100),
        copy("b", "e2", CopyStatus::Deleted, 200),
        copy("c", "e3", CopyStatus::Deleted, 300),
    ];
    gone[2].content = None;
    assert_eq!(
        resolve(&gone, &[], None),
        Resolution::Removed(Some(&gone[1]))
    );
    assert_eq!(resolve(&[], &[], None), Resolution::Removed(None));
}

#[test]
fn the_newest_copy_wins_and_the_organizer_breaks_a_tie() {
    let copies = [
        copy("attendee", "e1", CopyStatus::Live, 100),
        copy("organizer", "e2", CopyStatus::Live, 100),
        copy("older", "e3", CopyStatus::Live, 50),
    ];
    assert_eq!(
        contenders(&copies),
        vec![&copies[0], &copies[1]],
        "a tie between grants"
    );
    assert_eq!(resolve(&copies, &[], None), Resolution::Live(&copies[0]));
    let organizer = [GrantId::from("organizer")];
    assert_eq!(
        resolve(&copies, &organizer, None),
        Resolution::Live(&copies[1])
    );

    let newer = [
        copy("attendee", "e1", CopyStatus::Live, 300),
        copy("organizer", "e2", CopyStatus::Live, 100),
    ];
    assert!(contenders(&newer).is_empty(), "no tie: nothing to ask");
    assert_eq!(
        resolve(&newer, &organizer, None),
        Resolution::Live(&newer[0])
    );
}

#[test]
fn a_copy_left_out_by_policy_keeps_nothing_alive_and_marks_the_removal_as_filtered() {
    let declined_by_one = [
        copy("organizer", "e", CopyStatus::Live, 100),
        copy("attendee", "e", CopyStatus::Excluded, 200),
    ];
    assert_eq!(
        resolve(&declined_by_one, &[], None),
        Resolution::Live(&declined_by_one[0])
    );
    let filtered = [
        copy("a", "e1", CopyStatus::Excluded, 100),
        copy("b", "e2", CopyStatus::Deleted, 50),
    ];
    assert_eq!(
        resolve(&filtered, &[], None),
        Resolution::Removed(Some(&filtered[0]))
    );
    assert!(any_excluded(&filtered));
    let deleted = [copy("a", "e1", CopyStatus::Deleted, 100)];
    assert!(!any_excluded(&deleted));
}

#[test]
fn a_tie_the_organizer_cannot_break_keeps_the_content_already_written() {
    let mut copies = [
        copy("rep-a", "e", CopyStatus::Live, 100),
        copy("rep-b", "e", CopyStatus::Live, 100),
    ];
    copies[0].content_hash = Some("hash-a".into());
    copies[1].content_hash = Some("hash-b".into());
    assert_eq!(resolve(&copies, &[], None), Resolution::Live(&copies[0]));
    assert_eq!(
        resolve(&copies, &[], Some("hash-b")),
        Resolution::Live(&copies[1])
    );
    let organizer = [GrantId::from("rep-a")];
    assert_eq!(
        resolve(&copies, &organizer, Some("hash-b")),
        Resolution::Live(&copies[0]),
        "the organizer's copy still wins"
    );
}
