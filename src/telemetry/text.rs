//! The fields of `log.format = "text"` lines: `message key=value …` (string fields quoted),
//! like `tracing-subscriber`'s default, with every value escaped
//! ([`crate::printable::escape`]).
//!
//! Invariant: a text log line is one line, whatever a field holds: a newline inside an id or an
//! error message is written `\n`, a terminal escape sequence `\u{1b}…`, so no value can forge a
//! log line or drive the terminal that shows the log. (JSON lines get the same from JSON
//! string escaping.)

use std::fmt;

use tracing::field::{Field, Visit};
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::FormatFields;
use tracing_subscriber::fmt::format::Writer;

use crate::printable;

/// Formats event and span fields with escaped values.
#[derive(Debug, Clone, Copy, Default)]
pub struct EscapedFields;

impl<'writer> FormatFields<'writer> for EscapedFields {
    fn format_fields<R: RecordFields>(&self, writer: Writer<'writer>, fields: R) -> fmt::Result {
        let mut visitor = Visitor {
            writer,
            first: true,
            result: Ok(()),
        };
        fields.record(&mut visitor);
        visitor.result
    }
}

struct Visitor<'writer> {
    writer: Writer<'writer>,
    first: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    fn write(&mut self, name: &str, value: &str) -> fmt::Result {
        // Fields bridged from the `log` crate describe the call site, not the event.
        if name.starts_with("log.") {
            return Ok(());
        }
        if !std::mem::take(&mut self.first) {
            self.writer.write_char(' ')?;
        }
        let value = printable::escape(value);
        match name {
            "message" => self.writer.write_str(&value),
            name => write!(
                self.writer,
                "{}={value}",
                name.strip_prefix("r#").unwrap_or(name)
            ),
        }
    }
}

impl Visit for Visitor<'_> {
    /// String fields are quoted (as `tracing-subscriber` does), so a value cannot pose as
    /// further `key=value` fields; the message is not.
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self.write(field.name(), &format!("{value:?}"));
        }
    }
}
