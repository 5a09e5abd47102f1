//! The fake's list endpoints, faithful to `nylas.md`:
//! - `GET /v3/grants?limit&offset`: offset paging (the caller stops at a short page).
//! - `GET /v3/grants/{grant}/calendars?limit&page_token`: cursor paging.
//! - `GET /v3/grants/{grant}/events?calendar_id&start&end&limit&page_token&updated_after&
//!   show_cancelled&expand_recurring`: the calendar's events overlapping `[start, end)` (both
//!   required here: calsync must always send them), sorted by start then id; `updated_after`
//!   keeps events with a later `updated_at`; cancelled events only with `show_cancelled=true`;
//!   with `expand_recurring=true` series masters (events with `recurrence`) are replaced by their
//!   occurrences (events with `master_event_id`), otherwise occurrences are hidden;
//!   `master_event_id=M` lists only the occurrences of the series M.
//!   `next_cursor` is absent on the last page. `limit` above 200 is a 400.
//!
//! A grant whose `grant_status` is not `valid` answers 401 on its calendars and events, as an
//! expired grant does. Page sizes can be made smaller than `limit` to keep tests fast, a page can
//! be made to fail, and page tokens can be expired (like a real cursor that is too old).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{FakeNylas, NylasState, error, gate};

type Shared = State<Arc<Mutex<NylasState>>>;

/// An events page that fails (with `status`) until removed.
#[derive(Debug, Clone, PartialEq)]
pub struct PageFailure {
    pub calendar_id: String,
    /// `None`: the first page.
    pub page_token: Option<String>,
    pub status: u16,
}

/// A logged list request, decoded.
#[derive(Debug, Clone)]
pub struct ListRequest {
    /// `grants`, `calendars` or `events`.
    pub kind: String,
    pub grant: Option<String>,
    pub params: HashMap<String, String>,
}

impl ListRequest {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

impl FakeNylas {
    /// Adds a grant (`{"id", "grant_status", "provider", "email"}`).
    pub fn put_grant(&self, id: &str, status: &str) {
        let grant = json!({"id": id, "grant_status": status, "provider": "google",
                           "email": format!("{id}@seller.com")});
        self.state.lock().unwrap().grants.push(grant);
    }

    /// Sets a grant's `grant_status`.
    pub fn set_grant_status(&self, id: &str, status: &str) {
        let mut state = self.state.lock().unwrap();
        for grant in state.grants.iter_mut().filter(|g| g["id"] == id) {
            grant["grant_status"] = json!(status);
        }
    }

    /// Adds a calendar to a grant.
    pub fn put_calendar(&self, grant: &str, id: &str, primary: bool, read_only: bool) {
        let calendar = json!({"id": id, "grant_id": grant, "name": id, "is_primary": primary,
                              "read_only": read_only, "object": "calendar"});
        let mut state = self.state.lock().unwrap();
        state
            .calendars
            .entry(grant.to_string())
            .or_default()
            .push(calendar);
    }

    /// Pages hold at most this many events / calendars (below the requested `limit`).
    pub fn set_page_sizes(&self, events: usize, calendars: usize) {
        let mut state = self.state.lock().unwrap();
        state.event_page_size = Some(events);
        state.calendar_page_size = Some(calendars);
    }

    /// Makes an events page fail until [`FakeNylas::heal_pages`].
    pub fn fail_page(&self, failure: PageFailure) {
        self.state.lock().unwrap().failing_pages.push(failure);
    }

    /// Makes every page token issued so far invalid (answered 400).
    pub fn expire_cursors(&self) {
        self.state.lock().unwrap().cursor_generation += 1;
    }

    /// Removes every page failure.
    pub fn heal_pages(&self) {
        self.state.lock().unwrap().failing_pages.clear();
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.state.lock().unwrap().requests.clear();
    }

    /// The logged list requests of one kind (`grants`, `calendars`, `events`), decoded.
    pub fn list_requests(&self, kind: &str) -> Vec<ListRequest> {
        self.requests()
            .iter()
            .filter_map(|request| decode(request))
            .filter(|request| request.kind == kind)
            .collect()
    }
}

fn decode(request: &str) -> Option<ListRequest> {
    let url = url::Url::parse(&format!("http://fake{request}")).ok()?;
    let segments: Vec<String> = url
        .path_segments()?
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let (kind, grant) = match segments.as_slice() {
        [v, g] if v == "v3" && g == "grants" => ("grants", None),
        [_, _, grant, kind] if kind == "calendars" || kind == "events" => {
            (kind.as_str(), Some(grant.clone()))
        }
        _ => return None,
    };
    Some(ListRequest {
        kind: kind.to_string(),
        grant,
        params: url.query_pairs().into_owned().collect(),
    })
}

/// A bad request: the 400 message.
type Bad = String;

fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, Bad> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| format!("{name} must be an integer")),
    }
}

/// 401 for a known grant that is not valid.
fn grant_gate(state: &NylasState, grant: &str) -> Option<Response> {
    let known = state.grants.iter().find(|g| g["id"] == grant)?;
    (known["grant_status"] != "valid").then(|| error(401, "Grant is invalid or expired"))
}

pub async fn list_grants(
    State(state): Shared,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    let numbers = number(&query, "limit").and_then(|l| Ok((l, number(&query, "offset")?)));
    let (limit, offset) = match numbers {
        Ok((limit, offset)) => (limit.unwrap_or(10) as usize, offset.unwrap_or(0) as usize),
        Err(bad) => return error(400, &bad),
    };
    let page: Vec<Value> = state
        .grants
        .iter()
        .skip(offset)
        .take(limit)
        .cloned()
        .collect();
    Json(json!({"request_id": "req-fake", "data": page, "limit": limit, "offset": offset}))
        .into_response()
}

pub async fn list_calendars(
    State(state): Shared,
    Path(grant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers).or_else(|| grant_gate(&state, &grant))
    {
        return response;
    }
    let prefix = format!("cal-{}-", state.cursor_generation);
    let paging = number(&query, "limit")
        .and_then(|limit| Ok((limit, cursor_offset(query.get("page_token"), &prefix)?)));
    let (limit, offset) = match paging {
        Ok((limit, offset)) => (limit.unwrap_or(50) as usize, offset),
        Err(bad) => return error(400, &bad),
    };
    let size = limit.min(state.calendar_page_size.unwrap_or(limit)).max(1);
    let all = state.calendars.get(&grant).cloned().unwrap_or_default();
    page_answer(&all, offset, size, &prefix)
}

/// The parameters of an events list request.
struct EventsQuery {
    calendar: String,
    start: i64,
    end: i64,
    limit: usize,
    token: Option<String>,
    updated_after: Option<i64>,
    show_cancelled: bool,
    expand: bool,
    master: Option<String>,
}

impl EventsQuery {
    fn read(query: &HashMap<String, String>) -> Result<EventsQuery, Bad> {
        let calendar = query
            .get("calendar_id")
            .cloned()
            .ok_or("calendar_id is required")?;
        let (Some(start), Some(end)) = (number(query, "start")?, number(query, "end")?) else {
            return Err(
                "this fake requires start and end (Nylas would list one month ahead)".into(),
            );
        };
        let limit = number(query, "limit")?.unwrap_or(50) as usize;
        if limit > 200 {
            return Err("limit must be at most 200".into());
        }
        let flag = |name: &str| query.get(name).map(String::as_str) == Some("true");
        Ok(EventsQuery {
            calendar,
            start,
            end,
            limit,
            token: query.get("page_token").cloned(),
            updated_after: number(query, "updated_after")?,
            show_cancelled: flag("show_cancelled"),
            expand: flag("expand_recurring"),
            master: query.get("master_event_id").cloned(),
        })
    }

    /// Whether the event (of the right grant) is listed.
    fn lists(&self, event: &Value) -> bool {
        let master = event["recurrence"]
            .as_array()
            .is_some_and(|r| !r.is_empty());
        let occurrence = event["master_event_id"].is_string();
        event["calendar_id"] == self.calendar.as_str()
            && span(event).is_some_and(|(s, e)| s < self.end && e > self.start)
            && self
                .updated_after
                .is_none_or(|after| event["updated_at"].as_i64() > Some(after))
            && (self.show_cancelled || event["status"] != "cancelled")
            && match &self.master {
                Some(id) => event["master_event_id"] == id.as_str(),
                None if self.expand => !master,
                None => !occurrence,
            }
    }
}

pub async fn list_events(
    State(state): Shared,
    Path(grant): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers).or_else(|| grant_gate(&state, &grant))
    {
        return response;
    }
    let query = match EventsQuery::read(&query) {
        Ok(query) => query,
        Err(bad) => return error(400, &bad),
    };
    if let Some(failure) = state
        .failing_pages
        .iter()
        .find(|f| f.calendar_id == query.calendar && f.page_token == query.token)
    {
        return error(failure.status, "scripted page failure");
    }
    let prefix = format!("evt-{}-", state.cursor_generation);
    let offset = match cursor_offset(query.token.as_ref(), &prefix) {
        Ok(offset) => offset,
        Err(bad) => return error(400, &bad),
    };
    let mut matching: Vec<Value> = state
        .events
        .iter()
        .filter(|((g, _), event)| *g == grant && query.lists(event))
        .map(|(_, event)| event.clone())
        .collect();
    matching.sort_by_key(|event| {
        let start = span(event).map(|(s, _)| s);
        (start, event["id"].as_str().map(String::from))
    });
    let size = query
        .limit
        .min(state.event_page_size.unwrap_or(query.limit))
        .max(1);
    page_answer(&matching, offset, size, &prefix)
}

fn cursor_offset(token: Option<&String>, prefix: &str) -> Result<usize, Bad> {
    match token {
        None => Ok(0),
        Some(token) => token
            .strip_prefix(prefix)
            .and_then(|rest| rest.parse().ok())
            .ok_or_else(|| "invalid page_token".to_string()),
    }
}

fn page_answer(all: &[Value], offset: usize, size: usize, prefix: &str) -> Response {
    let end = (offset + size).min(all.len());
    let data = all.get(offset..end).unwrap_or_default();
    let mut body = json!({"request_id": "req-fake", "data": data});
    if end < all.len() {
        body["next_cursor"] = json!(format!("{prefix}{end}"));
    }
    Json(body).into_response()
}

/// An event's `[start, end)` in Unix seconds, from its `when`.
pub fn span(event: &Value) -> Option<(i64, i64)> {
    let when = &event["when"];
    let day = |text: &Value| -> Option<i64> {
        let date: jiff::civil::Date = text.as_str()?.parse().ok()?;
        Some(
            date.to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_second(),
        )
    };
    if let (Some(start), Some(end)) = (when["start_time"].as_i64(), when["end_time"].as_i64()) {
        return Some((start, end.max(start + 1)));
    }
    if let Some(time) = when["time"].as_i64() {
        return Some((time, time + 1));
    }
    if let Some(date) = day(&when["date"]) {
        return Some((date, date + 86_400));
    }
    Some((day(&when["start_date"])?, day(&when["end_date"])? + 86_400))
}

/// `GET /v3/grants/{id}`: the grant of that id among those `GET /v3/grants` lists, else 404.
pub async fn get_grant(
    State(state): Shared,
    Path(grant): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let mut state = state.lock().unwrap();
    if let Some(response) = gate(&mut state, &uri, &headers) {
        return response;
    }
    let found = state
        .grants
        .iter()
        .find(|listed| listed.get("id").and_then(Value::as_str) == Some(grant.as_str()))
        .cloned();
    match found {
        Some(data) => Json(json!({"request_id": "req-fake", "data": data})).into_response(),
        None => error(404, &format!("grant {grant} not found")),
    }
}
