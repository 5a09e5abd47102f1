//! Choosing the event of `calsync webhook test`: the one the arguments name, or the most
//! recently updated event of a grant's calendar, read through the Nylas client.

use std::io::Write;

use jiff::Timestamp;

use super::{
    EndpointTestError, LOOK_AHEAD_DAYS, LOOK_BACK_DAYS, MAX_PAGES, TestArgs, nylas, output,
};
use crate::nylas::client::{EventQuery, MAX_PAGE_SIZE};
use crate::nylas::{Event, NylasClient};

/// The event named by the arguments, or the newest one.
pub(super) async fn choose_event(
    client: &NylasClient,
    args: &TestArgs,
    out: &mut impl Write,
) -> Result<Event, EndpointTestError> {
    let event = match (&args.event, &args.grant) {
        (Some(_), None) => return Err(EndpointTestError::EventWithoutGrant),
        (Some(event), Some(grant)) => {
            let calendar = args.calendar.as_deref().unwrap_or("primary");
            let found = client
                .get_event(grant, event, calendar)
                .await
                .map_err(nylas("read the event"))?;
            let found = found.ok_or_else(|| EndpointTestError::EventNotFound {
                event: event.clone(),
                grant: grant.clone(),
                calendar: calendar.to_owned(),
            })?;
            with_ids(found, grant, calendar)
        }
        (None, grant) => {
            let grant = match grant {
                Some(grant) => grant.clone(),
                None => first_valid_grant(client).await?,
            };
            let calendar = match &args.calendar {
                Some(calendar) => calendar.clone(),
                None => primary_calendar(client, &grant).await?,
            };
            let newest = newest_event(client, &grant, &calendar).await?;
            with_ids(newest, &grant, &calendar)
        }
    };
    let updated = event
        .updated_at
        .and_then(|seconds| Timestamp::from_second(seconds).ok())
        .map_or_else(|| "an unknown time".to_owned(), |at| at.to_string());
    writeln!(
        out,
        "Event: {} \"{}\" of grant {} (calendar {}), last updated {updated}.",
        event.id,
        event.title.as_deref().unwrap_or(""),
        event.grant_id.as_deref().unwrap_or(""),
        event.calendar_id.as_deref().unwrap_or(""),
    )
    .map_err(output)?;
    Ok(event)
}

/// Fills the grant and calendar ids a provider may leave out.
fn with_ids(mut event: Event, grant: &str, calendar: &str) -> Event {
    event.grant_id.get_or_insert_with(|| grant.to_owned());
    if calendar != "primary" {
        event.calendar_id.get_or_insert_with(|| calendar.to_owned());
    }
    event
}

async fn first_valid_grant(client: &NylasClient) -> Result<String, EndpointTestError> {
    const PAGE: u32 = 100;
    let mut offset = 0;
    loop {
        let page = client
            .list_grants(PAGE, offset)
            .await
            .map_err(nylas("list the grants"))?;
        if let Some(grant) = page.data.iter().find(|grant| grant.is_valid()) {
            return Ok(grant.id.clone());
        }
        if page.received() < PAGE as usize {
            return Err(EndpointTestError::NoGrant);
        }
        offset += PAGE;
    }
}

async fn primary_calendar(client: &NylasClient, grant: &str) -> Result<String, EndpointTestError> {
    let mut first = None;
    let mut cursor: Option<String> = None;
    loop {
        let page = client
            .list_calendars(grant, MAX_PAGE_SIZE, cursor.as_deref())
            .await
            .map_err(nylas("list the grant's calendars"))?;
        if let Some(primary) = page.data.iter().find(|c| c.is_primary == Some(true)) {
            return Ok(primary.id.clone());
        }
        first = first.or_else(|| page.data.first().map(|calendar| calendar.id.clone()));
        cursor = page.next_cursor;
        if cursor.is_none() {
            return first.ok_or_else(|| EndpointTestError::NoCalendar(grant.to_owned()));
        }
    }
}

/// The most recently updated event of the calendar in the window (the last one listed among
/// equals).
async fn newest_event(
    client: &NylasClient,
    grant: &str,
    calendar: &str,
) -> Result<Event, EndpointTestError> {
    let now = client.clock().now();
    let days = |count: i64| jiff::SignedDuration::from_hours(24 * count);
    let start = now
        .checked_sub(days(LOOK_BACK_DAYS))
        .unwrap_or(Timestamp::MIN);
    let end = now
        .checked_add(days(LOOK_AHEAD_DAYS))
        .unwrap_or(Timestamp::MAX);
    let mut query = EventQuery::new(calendar, start.as_second(), end.as_second());
    let mut newest: Option<Event> = None;
    for _ in 0..MAX_PAGES {
        let page = client
            .list_events(grant, &query)
            .await
            .map_err(nylas("list the calendar's events"))?;
        for event in page.data {
            if newest
                .as_ref()
                .is_none_or(|kept| event.updated_at >= kept.updated_at)
            {
                newest = Some(event);
            }
        }
        query.page_token = page.next_cursor;
        if query.page_token.is_none() {
            break;
        }
    }
    newest.ok_or_else(|| EndpointTestError::NoEvent {
        grant: grant.to_owned(),
        calendar: calendar.to_owned(),
        start,
        end,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::clock::Clock;
    use crate::nylas::client::fake::{Canned, FakeNylas};

    /// The window searched is around the client's clock, not the machine's: a clock set years
    /// ahead of the wall clock asks Nylas for events around its own now.
    #[tokio::test]
    async fn the_newest_event_is_looked_for_around_the_clocks_now() {
        let fake = FakeNylas::start().await;
        fake.then(Canned::json(200, json!({"data": []})));
        let set_to: Timestamp = "2031-03-01T12:00:00Z".parse().unwrap();
        let clock = Clock::Tokio {
            wall_base: set_to,
            instant_base: tokio::time::Instant::now(),
        };
        let client = fake.client().with_clock(clock);

        let error = newest_event(&client, "grant-1", "cal-1").await.unwrap_err();
        let EndpointTestError::NoEvent { start, end, .. } = error else {
            panic!("expected NoEvent, got {error:?}");
        };
        let day = 86_400;
        // The clock has moved on by the test's run time (well under a second) since `set_to`.
        let expected_start = set_to.as_second() - LOOK_BACK_DAYS * day;
        let expected_end = set_to.as_second() + LOOK_AHEAD_DAYS * day;
        assert!(
            (0..=1).contains(&(start.as_second() - expected_start)),
            "{start}"
        );
        assert!((0..=1).contains(&(end.as_second() - expected_end)), "{end}");
        let query = fake.single().query();
        assert!(
            query.contains(&("start".to_owned(), start.as_second().to_string())),
            "{query:?}"
        );
        assert!(
            query.contains(&("end".to_owned(), end.as_second().to_string())),
            "{query:?}"
        );
    }
}
