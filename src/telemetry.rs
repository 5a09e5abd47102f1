//! Logging and metrics.
//!
//! Logging: one `tracing` subscriber for the process, installed by [`init_logging`], writing to
//! stdout either JSON lines (the default: `timestamp`, `level`, `target`, `message`, then the
//! fields of the enclosing spans and of the event, flattened into the same object, so that
//! `event.id` or `grant.id` set on a job's span appear on every line of that job) or human
//! text (field values escaped by [`text::EscapedFields`], so a value cannot forge a line). The
//! level is an `EnvFilter` directive from `log.level`.
//!
//! Metrics: [`metrics::Metrics`], a Prometheus registry per process (names prefixed `calsync_`);
//! [`store_gauges`] decides which replica exports the store-wide ones. [`throttle`] bounds the
//! log lines of floods.
//!
//! Invariants: installing twice is an error, never a panic; a bad `log.level` is an error naming
//! the key; the JSON formatter never fails a line because of a field it cannot render (it falls
//! back to the field's `Debug`).

pub mod console;
pub mod metrics;
pub mod store_gauges;
pub mod text;
pub mod throttle;

use std::fmt;
use std::io::IsTerminal;

use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{EnvFilter, Layer, Registry};

pub use crate::config::{LevelError, env_filter};
use crate::config::{LogFormat, LogSettings};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `log.level` is not a valid filter.
    #[error("log.level: invalid filter directive {level:?}")]
    InvalidLevel {
        /// The configured directive.
        level: String,
        /// Why the directive is invalid.
        #[source]
        source: LevelError,
    },
    /// A global subscriber (or `log` logger) is already installed in this process.
    #[error("logging is already initialised in this process")]
    AlreadyInstalled(#[source] TryInitError),
}

/// Installs the process-wide subscriber described by `settings`, writing to stdout.
///
/// Returns [`TelemetryError::AlreadyInstalled`] (and changes nothing) when called again.
pub fn init_logging(settings: &LogSettings, output: LogOutput) -> Result<(), TelemetryError> {
    let filter = env_filter(&settings.level).map_err(|source| TelemetryError::InvalidLevel {
        level: settings.level.clone(),
        source,
    })?;
    match output {
        LogOutput::Stdout => {
            let ansi = std::io::stdout().is_terminal();
            subscriber(settings.format, filter, std::io::stdout, ansi).try_init()
        }
        LogOutput::Stderr => {
            let ansi = std::io::stderr().is_terminal();
            let writer = console::ConsoleWriter::stderr();
            subscriber(settings.format, filter, writer, ansi).try_init()
        }
    }
    .map_err(TelemetryError::AlreadyInstalled)
}

/// Where log lines go: the daemon logs to stdout (the container's log stream); one-shot
/// commands log to stderr, so their stdout holds only their report (a table, JSON, a secret),
/// around the progress bar a backfill may show there ([`console`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOutput {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// The subscriber [`init_logging`] installs, writing to `writer` (tests pass a buffer).
fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let layer: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .fmt_fields(JsonFields::new())
            .event_format(FlatJson)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .fmt_fields(text::EscapedFields)
            .with_ansi(ansi)
            .with_writer(writer)
            .with_filter(filter)
            .boxed(),
    };
    tracing_subscriber::registry().with(layer)
}

/// Keys every JSON line starts with; span and event fields of the same name are dropped.
const RESERVED: [&str; 3] = ["timestamp", "level", "target"];

/// JSON lines with span and event fields flattened into one object. Span fields are stored by
/// [`JsonFields`] as JSON objects; inner spans override outer ones and the event overrides all.
struct FlatJson;

impl<S, N> FormatEvent<S, N> for FlatJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                let Some(stored) = extensions.get::<FormattedFields<N>>() else {
                    continue;
                };
                if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&stored.fields) {
                    map.into_iter()
                        .for_each(|(key, value)| fields.set(&key, value));
                }
            }
        }
        event.record(&mut fields);

        let metadata = event.metadata();
        let target = fields
            .take_log_target()
            .unwrap_or_else(|| metadata.target().to_owned());
        let fixed = [
            ("timestamp", Value::from(jiff::Timestamp::now().to_string())),
            ("level", Value::from(metadata.level().as_str())),
            ("target", Value::from(target)),
        ];
        // Written by hand so that the fixed keys come first and fields keep their order.
        let mut text = String::from("{");
        let all = fixed
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value));
        for (index, (key, value)) in all.chain(fields.0).enumerate() {
            if index > 0 {
                text.push(',');
            }
            text.push_str(&serde_json::to_string(&key).map_err(|_| fmt::Error)?);
            text.push(':');
            text.push_str(&serde_json::to_string(&value).map_err(|_| fmt::Error)?);
        }
        writeln!(writer, "{text}}}")
    }
}

/// Fields of a line in first-set order; setting a key again replaces its value in place.
#[derive(Default)]
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn set(&mut self, key: &str, value: Value) {
        if RESERVED.contains(&key) {
            return;
        }
        match self.0.iter_mut().find(|(existing, _)| existing == key) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// Events bridged from the `log` crate carry their real target as `log.target` (and their
    /// location as `log.*` fields): use that target and drop the bridge's fields.
    fn take_log_target(&mut self) -> Option<String> {
        let target = self.0.iter().find_map(|(key, value)| match value {
            Value::String(target) if key == "log.target" => Some(target.clone()),
            _ => None,
        })?;
        self.0.retain(|(key, _)| !key.starts_with("log."));
        Some(target)
    }
}

impl Visit for Fields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let number = serde_json::Number::from_f64(value);
        let value = number.map_or_else(|| Value::String(value.to_string()), Value::Number);
        self.set(field.name(), value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), value.into());
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), value.to_string().into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.set(field.name(), format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests;
