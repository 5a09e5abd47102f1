//! Finding the activity of a create whose answer was lost.
//!
//! Pipedrive cannot search activities by our id, but it can list them by update time: the
//! activities updated in the last [`RECOVERY_WINDOW`] are read newest first, at most
//! [`RECOVERY_PAGES`] pages of [`PAGE_SIZE`] (10 tokens a page), looking for the note's marker
//! line. A lost create is normally retried within minutes, so the window covers it with a wide
//! margin; the page bound caps the cost in a busy company.

use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use serde::Deserialize;

use super::{PipedriveAdapter, has_marker};
use crate::crm::CrmError;
use crate::crm::vendor::decode;

/// How far back the scan looks.
pub const RECOVERY_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);

/// The most pages the scan reads.
pub const RECOVERY_PAGES: usize = 4;

/// Activities per page (Pipedrive's maximum).
const PAGE_SIZE: &str = "500";

/// One page of `GET /api/v2/activities`.
#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    data: Option<Vec<Listed>>,
    additional_data: Option<Cursor>,
}

#[derive(Debug, Deserialize)]
struct Listed {
    id: i64,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cursor {
    next_cursor: Option<String>,
}

impl PipedriveAdapter {
    /// The id of the activity whose note carries the marker for `external_event_id`, if one was
    /// updated within the window.
    pub(super) async fn find_by_marker(
        &self,
        external_event_id: &str,
    ) -> Result<Option<i64>, CrmError> {
        const OPERATION: &str = "pipedrive recover";
        let now = self.client.now();
        let since = now
            .checked_sub(RECOVERY_WINDOW)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        // Whole seconds, as in Pipedrive's examples (`2025-01-01T10:20:00Z`).
        let since = Timestamp::from_second(since.as_second())
            .unwrap_or(since)
            .to_string();
        let url = self.url(&["activities"]);
        let mut cursor: Option<String> = None;
        for _ in 0..RECOVERY_PAGES {
            let sent = self
                .client
                .send(OPERATION, || {
                    let mut request = self.client.request(Method::GET, &url).query(&[
                        ("updated_since", since.as_str()),
                        ("sort_by", "update_time"),
                        ("sort_direction", "desc"),
                        ("limit", PAGE_SIZE),
                    ]);
                    if let Some(cursor) = &cursor {
                        request = request.query(&[("cursor", cursor)]);
                    }
                    request
                })
                .await?;
            let sent = self.client.success(OPERATION, sent)?;
            let page: Page = decode(OPERATION, &sent, "the answer is not an activity list")?;
            let found = page.data.unwrap_or_default().into_iter().find(|activity| {
                activity
                    .note
                    .as_deref()
                    .is_some_and(|note| has_marker(note, external_event_id))
            });
            if let Some(activity) = found {
                return Ok(Some(activity.id));
            }
            cursor = page.additional_data.and_then(|data| data.next_cursor);
            if cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }
}
