//! The JSONL dry-run adapter (`kind = "jsonl"`): instead of calling a CRM, every write appends
//! one JSON object, on one line, to a file:
//!
//! ```text
//! {"op":"upsert","at":"2026-07-01T10:00:00Z","existing":"none|known|uncertain","record":{…}}
//! {"op":"soft_delete","at":"2026-07-01T10:00:00Z","external_event_id":"…"}
//! ```
//!
//! Invariants: the file (and its parent directory) is created when missing and only ever
//! appended to; writers in this process are serialized by a mutex and each line is written whole
//! and flushed before the next, so lines never interleave; the "CRM id" is the external event
//! id and `created` is true exactly when the worker knew of no existing record; `at` comes from
//! the adapter's [`Clock`]. The file is reopened for each line, so it can be rotated or removed
//! while calsync runs. `check` creates nothing: it asks whether the first write could.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use jiff::Timestamp;
use serde::Serialize;
use tokio::fs::{File, OpenOptions};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

use super::{CrmAdapter, CrmError, ExistingRecord, UpsertOutcome};
use crate::clock::Clock;
use crate::config::JsonlCrmSettings;
use crate::ids::{CrmRecordId, EventId, TargetId};
use crate::record::MeetingRecord;

/// The JSONL dry run.
pub struct JsonlAdapter {
    path: PathBuf,
    target: TargetId,
    /// Held while a line is written: one writer at a time.
    writer: Mutex<()>,
    /// Where the lines' `at` comes from.
    clock: Clock,
}

/// One line of the file.
#[derive(Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Line<'a> {
    Upsert {
        at: Timestamp,
        existing: &'static str,
        record: &'a MeetingRecord,
    },
    SoftDelete {
        at: Timestamp,
        external_event_id: &'a str,
    },
}

impl JsonlAdapter {
    /// An adapter appending to the configured file. Nothing is opened until the first write
    /// or [`CrmAdapter::check`].
    pub fn new(settings: &JsonlCrmSettings) -> Self {
        JsonlAdapter {
            target: TargetId::new(format!("jsonl:{}", settings.path.display())),
            path: settings.path.clone(),
            writer: Mutex::new(()),
            clock: Clock::System,
        }
    }

    /// The same adapter stamping its lines with another time source.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Appends one line, whole, and flushes it.
    async fn append(&self, operation: &'static str, line: &Line<'_>) -> Result<(), CrmError> {
        let io_error = |source| CrmError::Io { operation, source };
        let mut bytes = serde_json::to_vec(line)
            .map_err(|error| io_error(io::Error::new(io::ErrorKind::InvalidData, error)))?;
        bytes.push(b'\n');
        let _turn = self.writer.lock().await;
        let mut file = open_for_append(&self.path).await.map_err(io_error)?;
        file.write_all(&bytes).await.map_err(io_error)?;
        file.flush().await.map_err(io_error)
    }
}

/// Opens `path` for appending, creating it and its parent directory when missing.
async fn open_for_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    match options.open(path).await {
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = path
                .parent()
                .filter(|parent| !parent.as_os_str().is_empty())
            {
                tokio::fs::create_dir_all(parent).await?;
            }
            options.open(path).await
        }
        result => result,
    }
}

/// Whether `path` could be appended to, without creating anything (see [`JsonlAdapter`]'s
/// `check`). Errors name the path.
fn appendable(path: &Path) -> io::Result<()> {
    let named = |error: io::Error, what: &Path| {
        io::Error::new(error.kind(), format!("{}: {error}", what.display()))
    };
    match std::fs::metadata(path) {
        Ok(metadata) if metadata.is_dir() => Err(io::Error::new(
            io::ErrorKind::IsADirectory,
            format!("{} is a directory, not a file", path.display()),
        )),
        Ok(_) => std::fs::OpenOptions::new()
            .append(true)
            .open(path)
            .map(drop)
            .map_err(|error| named(error, path)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            let directory = path
                .ancestors()
                .skip(1)
                .map(|dir| {
                    if dir.as_os_str().is_empty() {
                        Path::new(".")
                    } else {
                        dir
                    }
                })
                .find(|dir| dir.exists())
                .unwrap_or(Path::new("/"));
            if !directory.is_dir() {
                return Err(io::Error::new(
                    io::ErrorKind::NotADirectory,
                    format!("{} is not a directory", directory.display()),
                ));
            }
            let access = nix::unistd::AccessFlags::W_OK | nix::unistd::AccessFlags::X_OK;
            nix::unistd::access(directory, access)
                .map_err(|errno| named(io::Error::from(errno), directory))
        }
        Err(error) => Err(named(error, path)),
    }
}

#[async_trait]
impl CrmAdapter for JsonlAdapter {
    fn kind(&self) -> &'static str {
        "jsonl"
    }

    fn target(&self) -> &TargetId {
        &self.target
    }

    async fn upsert(
        &self,
        record: &MeetingRecord,
        existing: ExistingRecord<'_>,
    ) -> Result<UpsertOutcome, CrmError> {
        let existing_name = match existing {
            ExistingRecord::None => "none",
            ExistingRecord::Known(_) => "known",
            ExistingRecord::Uncertain => "uncertain",
        };
        let line = Line::Upsert {
            at: self.clock.now(),
            existing: existing_name,
            record,
        };
        self.append("jsonl upsert", &line).await?;
        Ok(UpsertOutcome {
            crm_record_id: CrmRecordId::new(record.event_id.as_str()),
            created: existing == ExistingRecord::None,
        })
    }

    async fn soft_delete(
        &self,
        event_id: &EventId,
        _crm_record_id: &CrmRecordId,
    ) -> Result<(), CrmError> {
        let line = Line::SoftDelete {
            at: self.clock.now(),
            external_event_id: event_id.as_str(),
        };
        self.append("jsonl soft_delete", &line).await
    }

    /// Verifies the first write would succeed, creating nothing: an existing file must open for
    /// appending (which changes nothing in it); for a missing one, the nearest existing
    /// directory on its path must be writable (the first write creates the rest).
    async fn check(&self) -> Result<(), CrmError> {
        let path = self.path.clone();
        let checked = tokio::task::spawn_blocking(move || appendable(&path))
            .await
            .unwrap_or_else(|joined| Err(io::Error::other(joined)));
        checked.map_err(|source| CrmError::Io {
            operation: "jsonl check",
            source,
        })
    }
}

#[cfg(test)]
mod tests;
