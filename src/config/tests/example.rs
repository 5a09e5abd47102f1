//! `config/calsync.example.toml` cannot drift from the code: it loads, its values are the
//! defaults, its commented-out keys parse, and it documents every key, each with a comment.

use std::collections::BTreeSet;

use secrecy::ExposeSecret;

use super::{CRM_URL, load_from};
use crate::config::CrmSettings;

const EXAMPLE: &str = include_str!("../../../config/calsync.example.toml");

/// A `key = value` line of the example, active or commented out.
struct Assignment {
    /// Dotted key, with its section.
    key: String,
    /// The line number (0-based).
    line: usize,
    commented: bool,
}

/// The key and whether it is commented out, if `text` is a `key = value` line.
fn assignment(text: &str) -> Option<(&str, bool)> {
    let (body, commented) = match text.strip_prefix("# ") {
        Some(body) => (body, true),
        None => (text, false),
    };
    let (key, _) = body.split_once(" = ")?;
    let is_key = !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    is_key.then_some((key, commented))
}

fn assignments() -> Vec<Assignment> {
    let mut section = String::new();
    let mut found = Vec::new();
    for (line, text) in EXAMPLE.lines().enumerate() {
        if let Some(header) = text
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = header.to_owned();
        } else if let Some((key, commented)) = assignment(text) {
            found.push(Assignment {
                key: format!("{section}.{key}"),
                line,
                commented,
            });
        }
    }
    found
}

/// The example with the commented-out assignments at `lines` made active.
fn uncommented(lines: &[usize]) -> String {
    let mut text = String::new();
    for (index, line) in EXAMPLE.lines().enumerate() {
        let line = match line.strip_prefix("# ") {
            Some(body) if lines.contains(&index) => body,
            _ => line,
        };
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[test]
fn example_loads_to_exactly_the_defaults() {
    let base = [("CALSYNC__CRM__BASE_URL", CRM_URL)];
    let from_example = load_from(Some(EXAMPLE), &base).expect("the example loads");
    let defaults = load_from(None, &base).unwrap();
    assert_eq!(from_example.redacted_summary(), defaults.redacted_summary());
}

#[test]
fn example_commented_out_keys_parse() {
    let commented: Vec<Assignment> = assignments().into_iter().filter(|a| a.commented).collect();
    let rest_lines: Vec<usize> = commented
        .iter()
        .filter(|a| a.key != "crm.path")
        .map(|a| a.line)
        .collect();
    let settings = load_from(Some(&uncommented(&rest_lines)), &[]).expect("rest keys load");
    assert!(settings.nylas.api_key.is_some());
    match &settings.crm {
        CrmSettings::Rest(rest) => {
            assert_eq!(rest.base_url.as_str(), "https://crm.example.com/");
            assert!(rest.api_key.is_some());
        }
        other => panic!("expected rest, got {other:?}"),
    }

    // The jsonl kind: its key, from the example, with the kind switched and the rest keys
    // removed (they are not used by jsonl).
    let path_line = commented
        .iter()
        .find(|a| a.key == "crm.path")
        .expect("crm.path");
    let example_path = EXAMPLE.lines().nth(path_line.line).unwrap();
    let jsonl = format!("[crm]\nkind = \"jsonl\"\n{}\n", &example_path[2..]);
    let settings = load_from(Some(&jsonl), &[]).expect("jsonl keys load");
    assert_eq!(settings.crm.kind(), "jsonl");
    assert!(!settings.store.url.expose_secret().is_empty());
}

#[test]
fn example_documents_every_key_once_with_a_comment() {
    let found = assignments();
    let documented: BTreeSet<String> = found.iter().map(|a| a.key.clone()).collect();
    assert_eq!(
        documented.len(),
        found.len(),
        "a key appears twice in the example"
    );

    let base = [("CALSYNC__CRM__BASE_URL", CRM_URL)];
    let rest = load_from(None, &base).unwrap().redacted_summary();
    let jsonl_vars = [
        ("CALSYNC__CRM__KIND", "jsonl"),
        ("CALSYNC__CRM__PATH", "x.jsonl"),
    ];
    let jsonl = load_from(None, &jsonl_vars).unwrap().redacted_summary();
    let known: BTreeSet<String> = rest.into_iter().chain(jsonl).map(|(key, _)| key).collect();
    assert_eq!(
        documented, known,
        "the example and the settings list different keys"
    );

    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for key in &found {
        let previous = lines[key.line - 1];
        let is_comment = previous.starts_with("# ") && assignment(previous).is_none();
        assert!(is_comment, "{} has no comment line above it", key.key);
    }
}
