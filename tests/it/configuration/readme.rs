//! The README's dry-run snippet, pasted after its quick start, runs: the variables the quick
//! start exported for the REST CRM stay set, and only draw a warning each under the `jsonl`
//! kind. The commands are read from README.md itself, so the test follows the README.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;

use crate::support::binary::Daemon;
use crate::support::fake_nylas::{FakeNylas, NYLAS_KEY};
use crate::support::harness::SECRET;
use crate::support::payloads::{envelope, event};

const README: &str = include_str!("../../../README.md");

/// The text of the `## {title}` section.
fn section(title: &str) -> &'static str {
    let start = README
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no \"## {title}\" section"));
    let rest = &README[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |end| end + 3);
    &rest[..end]
}

/// The lines of the fenced code blocks of `text`.
fn code_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("```") {
            inside = !inside;
        } else if inside {
            lines.push(line);
        }
    }
    lines
}

/// `NAME=value` without a trailing `# comment`.
fn assignment(word: &str) -> Option<(String, String)> {
    let (name, value) = word.split_once('=')?;
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    is_name.then(|| (name.to_owned(), value.to_owned()))
}

/// The variables the quick start exports, in order.
fn quick_start_exports() -> Vec<(String, String)> {
    code_lines(section("Quick start"))
        .into_iter()
        .filter_map(|line| line.trim().strip_prefix("export "))
        .filter_map(|rest| assignment(rest.split(" #").next()?.trim()))
        .collect()
}

/// The dry-run command line: its variables and the arguments after the program.
fn dry_run_snippet() -> (Vec<(String, String)>, Vec<String>) {
    let line = code_lines(README)
        .into_iter()
        .find(|line| line.contains("CALSYNC__CRM__KIND=jsonl"))
        .expect("README has a dry-run snippet setting CALSYNC__CRM__KIND=jsonl");
    let mut words = line.split_whitespace();
    let mut vars = Vec::new();
    for word in words.by_ref() {
        match assignment(word) {
            Some(pair) => vars.push(pair),
            None => {
                assert!(
                    word.ends_with("calsync"),
                    "the snippet runs calsync: {line}"
                );
                break;
            }
        }
    }
    (vars, words.map(str::to_owned).collect())
}

fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(known, _)| known != name);
    env.push((name.to_owned(), value.to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dry_run_snippet_works_after_the_quick_start() {
    let exports = quick_start_exports();
    let (snippet, args) = dry_run_snippet();
    assert!(!exports.is_empty(), "the quick start exports variables");
    let path = snippet
        .iter()
        .find(|(name, _)| name == "CALSYNC__CRM__PATH")
        .map(|(_, path)| path.clone())
        .expect("the snippet names the dry-run file");

    let nylas = FakeNylas::start().await;
    nylas.put_event(event("evt-dry", "grant-1", "primary", "Demo call", 100));
    let dir = tempfile::tempdir().unwrap();
    let mut env = exports.clone();
    for (name, value) in &snippet {
        set(&mut env, name, value);
    }
    // The README's placeholders become the fake's credentials; nothing reaches the internet.
    set(&mut env, "NYLAS_API_URI", &nylas.api_uri());
    set(&mut env, "NYLAS_API_KEY", NYLAS_KEY);
    set(&mut env, "NYLAS_WEBHOOK_SECRET", SECRET);
    set(&mut env, "CALSYNC__RECONCILE__INTERVAL", "0s");

    let mut daemon = Daemon::start_in(dir.path(), &env, &args).await;
    let object = event("evt-dry", "grant-1", "primary", "Demo call", 100);
    let status = daemon
        .notify(&envelope("n-dry", "event.created", object))
        .await;
    assert_eq!(status, StatusCode::OK);
    let file = dir.path().join(&path);
    let written = daemon
        .wait_for(Duration::from_secs(30), || dry_run_has(&file, "evt-dry"))
        .await;
    assert!(written, "the dry run wrote no line for evt-dry");

    let logged = daemon.log_lines().join("\n");
    let leftovers = exports.iter().filter(|(name, _)| {
        name == "CRM_API_KEY"
            || (name.starts_with("CALSYNC__CRM__") && !snippet_sets(&snippet, name))
    });
    let mut warned = 0;
    for (name, _) in leftovers {
        let warning = format!("(from environment variable {name}); it is ignored");
        assert_eq!(
            logged.matches(&warning).count(),
            1,
            "{warning} in:\n{logged}"
        );
        warned += 1;
    }
    assert!(warned > 0, "the quick start leaves CRM variables set");
    assert_eq!(daemon.terminate().await, Some(0));
}

fn snippet_sets(snippet: &[(String, String)], name: &str) -> bool {
    snippet.iter().any(|(known, _)| known == name)
}

fn dry_run_has(file: &Path, event_id: &str) -> bool {
    std::fs::read_to_string(file).is_ok_and(|text| text.contains(event_id))
}
