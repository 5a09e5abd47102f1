//! Capturing the log lines a test produces, as JSON objects (event fields flattened in), with a
//! thread-local subscriber: it sees everything run on the test's (current-thread) runtime.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tracing::subscriber::DefaultGuard;
use tracing_subscriber::fmt::MakeWriter;

/// The lines logged since [`CapturedLogs::start`].
#[derive(Clone, Default)]
pub struct CapturedLogs {
    buffer: Arc<Mutex<Vec<u8>>>,
}

/// Appends to the shared buffer.
pub struct BufferWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl Write for BufferWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = BufferWriter;

    fn make_writer(&'a self) -> Self::Writer {
        BufferWriter {
            buffer: self.buffer.clone(),
        }
    }
}

impl CapturedLogs {
    /// Captures every level on this thread until the guard is dropped.
    pub fn start() -> (CapturedLogs, DefaultGuard) {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(logs.clone())
            .finish();
        (logs, tracing::subscriber::set_default(subscriber))
    }

    /// Every line so far, parsed.
    pub fn lines(&self) -> Vec<Value> {
        let buffer = self.buffer.lock().unwrap();
        String::from_utf8_lossy(&buffer)
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    /// The lines at `level` (`ERROR`, `WARN`, …) whose message contains `text`.
    pub fn find(&self, level: &str, text: &str) -> Vec<Value> {
        self.lines()
            .into_iter()
            .filter(|line| {
                line["level"] == level
                    && line["message"]
                        .as_str()
                        .is_some_and(|message| message.contains(text))
            })
            .collect()
    }
}
