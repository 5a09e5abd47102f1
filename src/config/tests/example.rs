//! `config/calsync.example.toml` cannot drift from the code: it loads, its values are the
//! defaults, its commented-out keys parse, and it documents every key, each with a comment.

use std::collections::BTreeSet;

use secrecy::ExposeSecret;

use super::{CRM_URL, load_from};
use crate::config::CrmSettings;
use crate::config::crm::KINDS;

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

/// The example with its `[crm]` section replaced by `kind = "<kind>"` and the example's lines
/// (uncommented) of the keys that kind uses, except those in `skip`.
fn example_for_kind(kind: &str, skip: &[&str]) -> String {
    let used = KINDS
        .iter()
        .find(|known| known.name == kind)
        .unwrap()
        .user_keys();
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    let mut crm = format!("[crm]\nkind = \"{kind}\"\n");
    for assignment in assignments() {
        let Some(key) = assignment.key.strip_prefix("crm.") else {
            continue;
        };
        if used.contains(&key) && !skip.contains(&key) {
            let line = lines[assignment.line];
            crm.push_str(line.strip_prefix("# ").unwrap_or(line));
            crm.push('\n');
        }
    }
    let mut text = String::new();
    let mut in_crm = false;
    for line in lines {
        if line.starts_with('[') {
            in_crm = line == "[crm]";
            if in_crm {
                text.push_str(&crm);
            }
        }
        if !in_crm {
            text.push_str(line);
            text.push('\n');
        }
    }
    text
}

#[test]
fn example_commented_out_keys_parse() {
    let commented: Vec<Assignment> = assignments().into_iter().filter(|a| a.commented).collect();
    let outside_crm: Vec<usize> = commented
        .iter()
        .filter(|a| !a.key.starts_with("crm."))
        .map(|a| a.line)
        .collect();
    let settings = load_from(
        Some(&uncommented(&outside_crm)),
        &[("CALSYNC__CRM__BASE_URL", CRM_URL)],
    )
    .expect("keys outside [crm] load");
    assert!(settings.nylas.api_key.is_some());

    // Every kind, from its own keys in the example.
    let rest = load_from(Some(&example_for_kind("rest", &[])), &[]).expect("rest keys load");
    match &rest.crm {
        CrmSettings::Rest(rest) => {
            assert_eq!(rest.base_url.as_str(), "https://crm.example.com/");
            assert!(rest.api_key.is_some());
        }
        other => panic!("expected rest, got {other:?}"),
    }
    for (kind, skip) in [
        ("jsonl", &[][..]),
        ("hubspot", &[][..]),
        ("salesforce", &[][..]),
        ("pipedrive", &["base_url"][..]),
    ] {
        let settings = load_from(Some(&example_for_kind(kind, skip)), &[])
            .unwrap_or_else(|error| panic!("{kind} keys load: {error}"));
        assert_eq!(settings.crm.kind(), kind);
    }
    assert!(!settings.store.url.expose_secret().is_empty());
}

/// Minimal variables for each kind, for the summaries.
const KIND_VARS: &[&[(&str, &str)]] = &[
    &[("CALSYNC__CRM__BASE_URL", CRM_URL)],
    &[
        ("CALSYNC__CRM__KIND", "jsonl"),
        ("CALSYNC__CRM__PATH", "x.jsonl"),
    ],
    &[
        ("CALSYNC__CRM__KIND", "hubspot"),
        ("CALSYNC__CRM__TOKEN", "t"),
    ],
    &[
        ("CALSYNC__CRM__KIND", "salesforce"),
        (
            "CALSYNC__CRM__INSTANCE_URL",
            "https://acme.my.salesforce.com",
        ),
        ("CALSYNC__CRM__CLIENT_ID", "id"),
        ("CALSYNC__CRM__CLIENT_SECRET", "s"),
    ],
    &[
        ("CALSYNC__CRM__KIND", "pipedrive"),
        ("CALSYNC__CRM__API_TOKEN", "t"),
        ("CALSYNC__CRM__COMPANY_DOMAIN", "acme"),
    ],
];

#[test]
fn example_documents_every_key_once_with_a_comment() {
    let found = assignments();
    let documented: BTreeSet<String> = found.iter().map(|a| a.key.clone()).collect();
    assert_eq!(
        documented.len(),
        found.len(),
        "a key appears twice in the example"
    );

    let known: BTreeSet<String> = KIND_VARS
        .iter()
        .flat_map(|vars| load_from(None, vars).unwrap().redacted_summary())
        .map(|(key, _)| key)
        .collect();
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
