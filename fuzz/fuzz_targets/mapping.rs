//! Any JSON → `Event` → meeting record or `MappingError`, never a panic; a record ends no
//! earlier than it starts and lasts the whole minutes between the two.
#![no_main]

use calsync::mapping::map_event;
use calsync::nylas::models::Event;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(event) = serde_json::from_slice::<Event>(data) else {
        return;
    };
    let Ok(record) = map_event(&event, "grant-1") else {
        return;
    };
    assert_eq!(record.event_id.as_str(), event.id.as_str());
    assert!(record.meeting_end_date >= record.meeting_date);
    let seconds = record.meeting_end_date.as_second() - record.meeting_date.as_second();
    assert_eq!(record.duration_minutes, seconds / 60);
    let _ = serde_json::to_value(&record).expect("a record serializes");
    let _ = record.content_hash();
});
