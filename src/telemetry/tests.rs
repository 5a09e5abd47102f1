//! Tests of the logging subscriber: the flattened JSON lines, the text format, level
//! directives, and installing twice.

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::Value;

use super::{LevelError, TelemetryError, env_filter, init_logging, subscriber};
use crate::config::{LogFormat, LogSettings};

/// A writer the tests read back.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl io::Write for Buffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Runs `emit` under a subscriber of `format` and `level`; returns what it wrote.
fn capture(format: LogFormat, level: &str, emit: impl FnOnce()) -> String {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let filter = env_filter(level).unwrap();
    let subscriber = subscriber(format, filter, move || writer.clone(), false);
    tracing::subscriber::with_default(subscriber, emit);
    buffer.text()
}

#[test]
fn json_lines_flatten_span_and_event_fields() {
    let output = capture(LogFormat::Json, "info", || {
        let job = tracing::info_span!("job", event.id = "ev-1", job.attempt = 1_u64);
        let _job = job.enter();
        let crm = tracing::info_span!("crm", crm.kind = "rest", job.attempt = 2_u64);
        let _crm = crm.enter();
        let error = io::Error::other("connection reset");
        tracing::warn!(
            error = &error as &dyn std::error::Error,
            retry.after_ms = 250_u64,
            "CRM write failed; will retry."
        );
    });
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(lines.len(), 1, "{output}");
    assert!(lines[0].starts_with("{\"timestamp\":\""), "{output}");
    assert!(
        lines[0].contains("Z\",\"level\":\"WARN\",\"target\":"),
        "{output}"
    );
    let line: Value = serde_json::from_str(lines[0]).unwrap();

    assert!(
        line["timestamp"]
            .as_str()
            .unwrap()
            .parse::<jiff::Timestamp>()
            .is_ok()
    );
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["target"], "calsync::telemetry::tests");
    assert_eq!(line["message"], "CRM write failed; will retry.");
    assert_eq!(line["event.id"], "ev-1");
    assert_eq!(line["crm.kind"], "rest");
    assert_eq!(line["job.attempt"], 2, "the inner span wins");
    assert_eq!(line["error"], "connection reset");
    assert_eq!(line["retry.after_ms"], 250);
}

#[test]
fn json_lines_respect_the_level() {
    let output = capture(LogFormat::Json, "warn", || {
        tracing::info!("not written");
        tracing::error!("written");
    });
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(output.contains("\"message\":\"written\""), "{output}");
}

#[test]
fn text_lines_are_human_readable() {
    let output = capture(LogFormat::Text, "info", || {
        tracing::info!(grant.id = "g-1", "Backfill started.");
    });
    assert!(output.contains("INFO"), "{output}");
    assert!(output.contains("Backfill started."), "{output}");
    assert!(output.contains("grant.id=\"g-1\""), "{output}");
    assert!(
        serde_json::from_str::<Value>(output.trim()).is_err(),
        "not JSON: {output}"
    );
}

#[test]
fn text_lines_escape_what_could_forge_a_line_or_drive_the_terminal() {
    let output = capture(LogFormat::Text, "info", || {
        let span = tracing::info_span!("job", event.id = "evt\nERROR forged span line");
        let _span = span.enter();
        let id = "evt-1\n2026-01-01T00:00:00Z ERROR forged";
        let error = io::Error::other("bad\r\u{1b}[2Jworse");
        tracing::warn!(
            notification.id = %id,
            grant.id = "g\u{1b}[31m",
            error = &error as &dyn std::error::Error,
            "Rejected {}.",
            "a\nb"
        );
    });
    assert_eq!(output.lines().count(), 1, "{output}");
    assert!(
        !output.contains('\u{1b}') && !output.contains('\r'),
        "{output:?}"
    );
    assert!(output.contains("Rejected a\\nb."), "{output}");
    assert!(
        output.contains("event.id=\"evt\\nERROR forged span line\""),
        "{output}"
    );
    assert!(
        output.contains("notification.id=evt-1\\n2026-01-01T00:00:00Z ERROR forged"),
        "{output}"
    );
    assert!(output.contains("grant.id=\"g\\u{1b}[31m\""), "{output}");
    assert!(output.contains("error=bad\\r\\u{1b}[2Jworse"), "{output}");
}

#[test]
fn level_directives() {
    for good in [
        "info",
        "WARN",
        "off",
        "info,calsync=debug,sqlx=warn",
        " debug ",
    ] {
        assert!(env_filter(good).is_ok(), "{good}");
    }
    assert!(matches!(env_filter(""), Err(LevelError::Empty)));
    assert!(matches!(env_filter("verbose"), Err(LevelError::NotALevel(word)) if word == "verbose"));
    assert!(matches!(
        env_filter("calsync=loud"),
        Err(LevelError::Parse(_))
    ));
}

#[test]
fn bad_level_is_an_error_naming_the_key() {
    let settings = LogSettings {
        format: LogFormat::Json,
        level: "verbose".into(),
    };
    let error = init_logging(&settings, super::LogOutput::Stderr).unwrap_err();
    assert!(matches!(error, TelemetryError::InvalidLevel { .. }));
    assert_eq!(
        error.to_string(),
        "log.level: invalid filter directive \"verbose\""
    );
}

#[test]
fn installing_twice_is_an_error_not_a_panic() {
    let settings = LogSettings {
        format: LogFormat::Json,
        level: "off".into(),
    };
    // The first call installs, unless another test of this process installed first; the
    // second call always finds a subscriber in place.
    let first = init_logging(&settings, super::LogOutput::Stderr);
    assert!(matches!(
        first,
        Ok(()) | Err(TelemetryError::AlreadyInstalled(_))
    ));
    let second = init_logging(&settings, super::LogOutput::Stderr);
    assert!(
        matches!(second, Err(TelemetryError::AlreadyInstalled(_))),
        "{second:?}"
    );
}
