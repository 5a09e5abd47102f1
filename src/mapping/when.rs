//! Interpretation of an event's `when` into a UTC start, end and all-day flag.
//!
//! Invariants: the end is never before the start; `date` and `datespan` events are all day,
//! start at 00:00Z of their first date and end at 00:00Z of the day after their last date
//! (`datespan.end_date` is inclusive); `time` events end when they start. The kind comes from
//! `when.object`, or, when that is missing or unknown, from which keys are present.

use jiff::Timestamp;
use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;

use super::MappingError;
use crate::nylas::models::When;

/// The interpreted `when`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Schedule {
    pub start: Timestamp,
    pub end: Timestamp,
    pub all_day: bool,
    /// The time zone name as the provider gave it (never resolved).
    pub timezone: Option<String>,
}

impl Schedule {
    /// Whole minutes from start to end.
    pub fn duration_minutes(&self) -> i64 {
        self.end.duration_since(self.start).as_mins()
    }
}

/// The four documented shapes of `when`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Time,
    Timespan,
    Date,
    Datespan,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Time => "time",
            Kind::Timespan => "timespan",
            Kind::Date => "date",
            Kind::Datespan => "datespan",
        }
    }
}

/// Interprets `when`; `None` (no `when` at all) is an error, as the record needs a date.
pub(super) fn schedule(when: Option<&When>) -> Result<Schedule, MappingError> {
    let when = when.ok_or(MappingError::MissingWhen)?;
    match kind(when).ok_or(MappingError::MissingWhen)? {
        Kind::Time => {
            let at = timestamp(Kind::Time, "time", when.time)?;
            Ok(Schedule {
                start: at,
                end: at,
                all_day: false,
                timezone: zone(&when.timezone),
            })
        }
        Kind::Timespan => timespan(when),
        Kind::Date => {
            let day = date(Kind::Date, "date", when.date.as_deref())?;
            all_day(day, day, "date", zone(&when.timezone))
        }
        Kind::Datespan => {
            let first = date(Kind::Datespan, "start_date", when.start_date.as_deref())?;
            let last = date(Kind::Datespan, "end_date", when.end_date.as_deref())?;
            all_day(first, last, "end_date", zone(&when.timezone))
        }
    }
}

/// The declared kind when it is one of the four, otherwise the kind the present keys suggest.
fn kind(when: &When) -> Option<Kind> {
    let declared = when
        .object
        .as_deref()
        .map(|object| object.trim().to_ascii_lowercase());
    match declared.as_deref() {
        Some("time") => Some(Kind::Time),
        Some("timespan") => Some(Kind::Timespan),
        Some("date") => Some(Kind::Date),
        Some("datespan") => Some(Kind::Datespan),
        _ if when.start_time.is_some() || when.end_time.is_some() => Some(Kind::Timespan),
        _ if when.time.is_some() => Some(Kind::Time),
        _ if when.start_date.is_some() || when.end_date.is_some() => Some(Kind::Datespan),
        _ if when.date.is_some() => Some(Kind::Date),
        _ => None,
    }
}

fn timespan(when: &When) -> Result<Schedule, MappingError> {
    let start = timestamp(Kind::Timespan, "start_time", when.start_time)?;
    // A timespan without an end is a point in time: a zero-length meeting, like a `time`, not
    // an unusable event.
    let end = match when.end_time {
        Some(_) => timestamp(Kind::Timespan, "end_time", when.end_time)?,
        None => start,
    };
    if end < start {
        return Err(MappingError::EndBeforeStart {
            start: start.to_string(),
            end: end.to_string(),
        });
    }
    Ok(Schedule {
        start,
        end,
        all_day: false,
        timezone: zone(&when.start_timezone).or_else(|| zone(&when.end_timezone)),
    })
}

/// An all-day schedule from `first` to the end of `last` (inclusive).
fn all_day(
    first: Date,
    last: Date,
    last_field: &'static str,
    timezone: Option<String>,
) -> Result<Schedule, MappingError> {
    if last < first {
        return Err(MappingError::EndBeforeStart {
            start: first.to_string(),
            end: last.to_string(),
        });
    }
    let after_last = last
        .tomorrow()
        .map_err(|source| MappingError::InvalidDate {
            field: last_field,
            value: last.to_string(),
            source,
        })?;
    Ok(Schedule {
        start: midnight_utc(first, "start")?,
        end: midnight_utc(after_last, last_field)?,
        all_day: true,
        timezone,
    })
}

fn midnight_utc(day: Date, field: &'static str) -> Result<Timestamp, MappingError> {
    TimeZone::UTC
        .to_timestamp(day.to_datetime(Time::midnight()))
        .map_err(|source| MappingError::InvalidDate {
            field,
            value: day.to_string(),
            source,
        })
}

fn timestamp(
    kind: Kind,
    field: &'static str,
    seconds: Option<i64>,
) -> Result<Timestamp, MappingError> {
    let seconds = seconds.ok_or(MappingError::IncompleteWhen {
        kind: kind.name(),
        field,
    })?;
    Timestamp::from_second(seconds).map_err(|source| MappingError::InvalidTimestamp {
        field,
        value: seconds,
        source,
    })
}

fn date(kind: Kind, field: &'static str, text: Option<&str>) -> Result<Date, MappingError> {
    let text = text.ok_or(MappingError::IncompleteWhen {
        kind: kind.name(),
        field,
    })?;
    Date::strptime("%Y-%m-%d", text.trim()).map_err(|source| MappingError::InvalidDate {
        field,
        value: text.to_owned(),
        source,
    })
}

/// The time zone name, trimmed, as given.
fn zone(name: &Option<String>) -> Option<String> {
    name.as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn when(json: &str) -> When {
        serde_json::from_str(json).unwrap()
    }

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn each_kind_maps_to_its_start_end_and_duration() {
        // (when JSON, start, end, minutes, all_day, timezone)
        let cases = [
            (
                r#"{"object":"timespan","start_time":1782900000,"end_time":1782902700,
                    "start_timezone":"America/Los_Angeles","end_timezone":"America/New_York"}"#,
                "2026-07-01T10:00:00Z",
                "2026-07-01T10:45:00Z",
                45,
                false,
                Some("America/Los_Angeles"),
            ),
            (
                r#"{"object":"timespan","start_time":1782900000,"start_timezone":"Europe/Paris"}"#,
                "2026-07-01T10:00:00Z",
                "2026-07-01T10:00:00Z",
                0,
                false,
                Some("Europe/Paris"),
            ),
            (
                r#"{"object":"time","time":1782900000,"timezone":"EST5EDT"}"#,
                "2026-07-01T10:00:00Z",
                "2026-07-01T10:00:00Z",
                0,
                false,
                Some("EST5EDT"),
            ),
            (
                r#"{"object":"date","date":"2026-07-06"}"#,
                "2026-07-06T00:00:00Z",
                "2026-07-07T00:00:00Z",
                1440,
                true,
                None,
            ),
            (
                r#"{"object":"datespan","start_date":"2026-07-06","end_date":"2026-07-08"}"#,
                "2026-07-06T00:00:00Z",
                "2026-07-09T00:00:00Z",
                4320,
                true,
                None,
            ),
            (
                r#"{"object":"datespan","start_date":"2026-07-06","end_date":"2026-07-06",
                    "timezone":"Europe/Paris"}"#,
                "2026-07-06T00:00:00Z",
                "2026-07-07T00:00:00Z",
                1440,
                true,
                Some("Europe/Paris"),
            ),
        ];
        for (json, start, end, minutes, all_day, timezone) in cases {
            let got = schedule(Some(&when(json))).unwrap();
            assert_eq!(got.start, ts(start), "{json}");
            assert_eq!(got.end, ts(end), "{json}");
            assert_eq!(got.duration_minutes(), minutes, "{json}");
            assert_eq!(got.all_day, all_day, "{json}");
            assert_eq!(got.timezone.as_deref(), timezone, "{json}");
        }
    }

    #[test]
    fn a_missing_or_unknown_object_is_inferred_from_the_keys() {
        let cases = [
            (
                r#"{"start_time":1782900000,"end_time":1782903600}"#,
                60,
                false,
            ),
            (r#"{"object":null,"time":1782900000}"#, 0, false),
            (r#"{"date":"2026-07-06"}"#, 1440, true),
            (
                r#"{"start_date":"2026-07-06","end_date":"2026-07-07"}"#,
                2880,
                true,
            ),
            (
                r#"{"object":"span","start_time":"1782900000","end_time":"1782901800"}"#,
                30,
                false,
            ),
        ];
        for (json, minutes, all_day) in cases {
            let got = schedule(Some(&when(json))).unwrap();
            assert_eq!(got.duration_minutes(), minutes, "{json}");
            assert_eq!(got.all_day, all_day, "{json}");
        }
    }

    #[test]
    fn unusable_whens_are_errors_that_name_the_problem() {
        assert!(matches!(schedule(None), Err(MappingError::MissingWhen)));
        assert!(matches!(
            schedule(Some(&when(r#"{"object":"timespan"}"#))),
            Err(MappingError::IncompleteWhen {
                kind: "timespan",
                field: "start_time"
            })
        ));
        assert!(matches!(
            schedule(Some(&when(r#"{"object":"weird"}"#))),
            Err(MappingError::MissingWhen)
        ));
        let reversed = r#"{"start_time":1782903600,"end_time":1782900000}"#;
        assert!(matches!(
            schedule(Some(&when(reversed))),
            Err(MappingError::EndBeforeStart { .. })
        ));
        let reversed_days = r#"{"start_date":"2026-07-08","end_date":"2026-07-06"}"#;
        assert!(matches!(
            schedule(Some(&when(reversed_days))),
            Err(MappingError::EndBeforeStart { .. })
        ));
        for bad in [r#"{"date":"2026-02-30"}"#, r#"{"date":"07/06/2026"}"#] {
            let error = schedule(Some(&when(bad))).unwrap_err();
            assert!(
                matches!(error, MappingError::InvalidDate { field: "date", .. }),
                "{bad}"
            );
        }
        let huge = r#"{"time":9999999999999}"#;
        assert!(matches!(
            schedule(Some(&when(huge))),
            Err(MappingError::InvalidTimestamp { field: "time", .. })
        ));
    }
}
