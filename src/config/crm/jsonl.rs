//! `[crm] kind = "jsonl"`: the dry run, one JSON line per write appended to a file.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::CrmKind;
use crate::config::value;

/// `[crm] kind = "jsonl"`
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JsonlCrmSettings {
    /// `path` (required): the file to append to.
    #[serde(deserialize_with = "value::file_path")]
    pub path: PathBuf,
}

impl CrmKind for JsonlCrmSettings {
    const CREDENTIAL: Option<&'static str> = None;
}
