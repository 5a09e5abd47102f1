//! Reading events, calendars and grants: one event by id, and the paged lists that backfill and
//! reconciliation walk.
//!
//! Invariants: list windows are always explicit (`start` and `end` are always sent: without them
//! Nylas silently lists one month ahead); `limit` is kept within 1..=[`MAX_PAGE_SIZE`]; a list
//! element that cannot be read is skipped and counted, never fatal to the page; a 404 for an
//! event is "gone" only when it is not about the grant.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::endpoint::{GET_EVENT, GET_GRANT, LIST_CALENDARS, LIST_EVENTS, LIST_GRANTS};
use super::{Call, Data, NO_BODY, NylasClient, NylasError, decode};
use crate::nylas::lenient;
use crate::nylas::models::{Calendar, Event, Grant};

/// The largest `limit` Nylas accepts for events and calendars.
pub const MAX_PAGE_SIZE: u32 = 200;

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The elements that could be read, in answer order.
    pub data: Vec<T>,
    /// The `page_token` of the next page; `None` on the last page (cursor-paged lists) and
    /// always for offset-paged lists (grants).
    pub next_cursor: Option<String>,
    /// How many elements of the answer could not be read and were left out.
    pub skipped: usize,
}

impl<T> Page<T> {
    /// How many elements the answer held, read or not: compare this (not `data.len()`) with the
    /// requested limit to tell a short page of an offset-paged list.
    pub fn received(&self) -> usize {
        self.data.len() + self.skipped
    }
}

/// The parameters of `GET /v3/grants/{grant_id}/events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    /// Required by Nylas (`primary` is accepted except on iCloud).
    pub calendar_id: String,
    /// Window start, Unix seconds (always sent).
    pub start: i64,
    /// Window end, Unix seconds (always sent).
    pub end: i64,
    /// Page size, clamped to 1..=[`MAX_PAGE_SIZE`].
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub page_token: Option<String>,
    /// Only events updated after this (Unix seconds; Google, Microsoft and EWS only).
    pub updated_after: Option<i64>,
    /// Include cancelled events (sent only when set).
    pub show_cancelled: Option<bool>,
    /// Expand recurring series into occurrences (deprecated by Nylas, default unclear: set it
    /// to get a known behaviour; sent only when set).
    pub expand_recurring: Option<bool>,
    /// Only the occurrences (and overrides) of this series master (sent only when set).
    pub master_event_id: Option<String>,
}

impl EventQuery {
    /// A query for the whole window `[start, end)` of a calendar, in pages of the maximum size.
    pub fn new(calendar_id: impl Into<String>, start: i64, end: i64) -> Self {
        EventQuery {
            calendar_id: calendar_id.into(),
            start,
            end,
            limit: MAX_PAGE_SIZE,
            page_token: None,
            updated_after: None,
            show_cancelled: None,
            expand_recurring: None,
            master_event_id: None,
        }
    }
}

/// `{request_id, data: [...], next_cursor}` before the elements are read.
#[derive(Deserialize)]
struct RawPage {
    data: Vec<Value>,
    #[serde(default, deserialize_with = "lenient::string")]
    next_cursor: Option<String>,
}

impl RawPage {
    fn read<T: DeserializeOwned>(self) -> Page<T> {
        let total = self.data.len();
        let data: Vec<T> = self
            .data
            .into_iter()
            .filter_map(|item| serde_json::from_value(item).ok())
            .collect();
        Page {
            skipped: total - data.len(),
            data,
            next_cursor: self.next_cursor,
        }
    }
}

impl NylasClient {
    /// One event; `None` when Nylas answers 404 for it (hard-deleted). A 404 about the grant
    /// (see [`NylasError::is_grant_not_found`]) is an error, never "deleted".
    pub async fn get_event(
        &self,
        grant_id: &str,
        event_id: &str,
        calendar_id: &str,
    ) -> Result<Option<Event>, NylasError> {
        let call = Call::new(GET_EVENT, &[grant_id, event_id]).query("calendar_id", calendar_id);
        let answer = self.send(call, NO_BODY).await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            let error = self.status_error(GET_EVENT, &answer);
            return if error.is_grant_not_found() {
                Err(error)
            } else {
                Ok(None)
            };
        }
        let body = self.success(GET_EVENT, answer)?;
        let envelope: Data<Event> = decode(GET_EVENT, &body)?;
        Ok(Some(envelope.data))
    }

    /// One page of a calendar's events in a window.
    pub async fn list_events(
        &self,
        grant_id: &str,
        query: &EventQuery,
    ) -> Result<Page<Event>, NylasError> {
        let mut call = Call::new(LIST_EVENTS, &[grant_id])
            .query("calendar_id", &query.calendar_id)
            .query("start", query.start)
            .query("end", query.end)
            .query("limit", query.limit.clamp(1, MAX_PAGE_SIZE));
        if let Some(token) = &query.page_token {
            call = call.query("page_token", token);
        }
        if let Some(after) = query.updated_after {
            call = call.query("updated_after", after);
        }
        if let Some(show) = query.show_cancelled {
            call = call.query("show_cancelled", show);
        }
        if let Some(expand) = query.expand_recurring {
            call = call.query("expand_recurring", expand);
        }
        if let Some(master) = &query.master_event_id {
            call = call.query("master_event_id", master);
        }
        let raw: RawPage = self.fetch(call, NO_BODY).await?;
        Ok(raw.read())
    }

    /// One page of a grant's calendars (cursor paging: pass the previous `next_cursor`).
    pub async fn list_calendars(
        &self,
        grant_id: &str,
        limit: u32,
        page_token: Option<&str>,
    ) -> Result<Page<Calendar>, NylasError> {
        let mut call =
            Call::new(LIST_CALENDARS, &[grant_id]).query("limit", limit.clamp(1, MAX_PAGE_SIZE));
        if let Some(token) = page_token {
            call = call.query("page_token", token);
        }
        let raw: RawPage = self.fetch(call, NO_BODY).await?;
        Ok(raw.read())
    }

    /// One grant; `None` when Nylas answers 404 (the grant was deleted).
    pub async fn get_grant(&self, grant_id: &str) -> Result<Option<Grant>, NylasError> {
        let answer = self
            .send(Call::new(GET_GRANT, &[grant_id]), NO_BODY)
            .await?;
        if answer.status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        let body = self.success(GET_GRANT, answer)?;
        let envelope: Data<Grant> = decode(GET_GRANT, &body)?;
        Ok(Some(envelope.data))
    }

    /// One page of the application's grants (offset paging: the list is over when
    /// [`Page::received`] is below `limit`; `next_cursor` is always `None`).
    pub async fn list_grants(&self, limit: u32, offset: u32) -> Result<Page<Grant>, NylasError> {
        let call = Call::new(LIST_GRANTS, &[])
            .query("limit", limit.max(1))
            .query("offset", offset);
        let raw: RawPage = self.fetch(call, NO_BODY).await?;
        let mut page: Page<Grant> = raw.read();
        page.next_cursor = None;
        Ok(page)
    }
}

#[cfg(test)]
mod tests;
