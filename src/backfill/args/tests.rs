use clap::Parser;
use jiff::Timestamp;

use super::*;

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    args: BackfillArgs,
}

fn parse(argv: &[&str]) -> Result<BackfillArgs, clap::Error> {
    let mut full = vec!["backfill"];
    full.extend_from_slice(argv);
    Cli::try_parse_from(full).map(|cli| cli.args)
}

/// 2024-06-10T15:30:00Z
fn now() -> Timestamp {
    "2024-06-10T15:30:00Z".parse().unwrap()
}

fn seconds(text: &str) -> i64 {
    text.parse::<Timestamp>().unwrap().as_second()
}

#[test]
fn defaults_are_90_days_back_and_365_ahead_in_whole_utc_days() {
    let options = parse(&[]).unwrap().options(now()).unwrap();
    assert_eq!(options.window.start, seconds("2024-03-12T00:00:00Z"));
    assert_eq!(options.window.end, seconds("2025-06-11T00:00:00Z"));
    assert!(options.grants.is_empty());
    assert_eq!(options.concurrency, 4);
}

#[test]
fn a_relative_window_is_the_same_all_day_and_covers_what_was_asked() {
    let args = parse(&["--days", "7", "--ahead", "0"]).unwrap();
    let morning = args
        .options("2024-06-10T00:00:01Z".parse().unwrap())
        .unwrap();
    let evening = args
        .options("2024-06-10T23:59:59Z".parse().unwrap())
        .unwrap();
    assert_eq!(morning, evening);
    assert_eq!(morning.window.start, seconds("2024-06-03T00:00:00Z"));
    assert_eq!(morning.window.end, seconds("2024-06-11T00:00:00Z"));
    let next_day = args
        .options("2024-06-11T00:00:00Z".parse().unwrap())
        .unwrap();
    assert_ne!(next_day.window, morning.window);
    let at = now().as_second();
    let window = args.options(now()).unwrap().window;
    assert!(window.start <= at - 7 * 86_400 && window.end > at);
}

#[test]
fn explicit_windows_accept_rfc3339_and_unix_seconds() {
    let options = parse(&[
        "--start",
        "2024-01-01T00:00:00+02:00",
        "--end",
        "1717200000",
    ])
    .unwrap()
    .options(now())
    .unwrap();
    assert_eq!(options.window.start, seconds("2023-12-31T22:00:00Z"));
    assert_eq!(options.window.end, 1_717_200_000);
}

#[test]
fn start_must_be_before_end() {
    let error = parse(&["--start", "1717200000", "--end", "1717200000"])
        .unwrap()
        .options(now())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "--start (2024-06-01T00:00:00Z) must be before --end (2024-06-01T00:00:00Z)"
    );
    assert!(
        parse(&[
            "--start",
            "2024-06-02T00:00:00Z",
            "--end",
            "2024-06-01T00:00:00Z"
        ])
        .unwrap()
        .options(now())
        .is_err()
    );
}

#[test]
fn bad_times_and_mixed_forms_are_usage_errors() {
    use clap::error::ErrorKind;
    let bad = parse(&["--start", "yesterday", "--end", "1717200000"]).unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::ValueValidation);
    assert!(
        bad.to_string()
            .contains("neither Unix seconds nor an RFC 3339")
    );
    let naive = parse(&["--start", "2024-06-01T00:00:00", "--end", "1717200000"]).unwrap_err();
    assert_eq!(naive.kind(), ErrorKind::ValueValidation);
    let lonely = parse(&["--start", "1717200000"]).unwrap_err();
    assert_eq!(lonely.kind(), ErrorKind::MissingRequiredArgument);
    let mixed = parse(&["--days", "3", "--start", "1", "--end", "2"]).unwrap_err();
    assert_eq!(mixed.kind(), ErrorKind::ArgumentConflict);
    let too_far = parse(&["--days", "40000"]).unwrap_err();
    assert_eq!(too_far.kind(), ErrorKind::ValueValidation);
    let huge = parse(&["--start", "1", "--end", "99999999999999"]).unwrap_err();
    assert_eq!(huge.kind(), ErrorKind::ValueValidation);
}

#[test]
fn concurrency_is_between_1_and_64() {
    assert_eq!(
        parse(&["--concurrency", "16"])
            .unwrap()
            .options(now())
            .unwrap()
            .concurrency,
        16
    );
    assert!(parse(&["--concurrency", "0"]).is_err());
    assert!(parse(&["--concurrency", "65"]).is_err());
}

#[test]
fn grants_are_deduplicated_and_sorted_and_never_empty() {
    let options = parse(&["--grant", "b", "--grant", "a", "--grant", "b"])
        .unwrap()
        .options(now())
        .unwrap();
    assert_eq!(options.grants, vec!["a".to_string(), "b".to_string()]);
    let error = parse(&["--grant", " "])
        .unwrap()
        .options(now())
        .unwrap_err();
    assert_eq!(error, ArgsError::EmptyGrant);
}

#[test]
fn windows_display_as_rfc3339() {
    let window = Window {
        start: 1_717_200_000,
        end: 1_717_286_400,
    };
    assert_eq!(
        window.to_string(),
        "2024-06-01T00:00:00Z – 2024-06-02T00:00:00Z"
    );
}
