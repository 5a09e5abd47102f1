//! Event → meeting record mapping (skeleton; implemented in its own change).

use crate::nylas::Event;
use crate::record::MeetingRecord;

/// Why an event cannot be mapped.
#[derive(Debug, thiserror::Error)]
pub enum MappingError {
    #[error("the event has no usable `when`")]
    MissingWhen,
}

/// Maps an event to its meeting record.
pub fn map_event(_event: &Event, _fallback_grant_id: &str) -> Result<MeetingRecord, MappingError> {
    todo!("mapping")
}
