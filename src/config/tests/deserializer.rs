//! The path-aware deserializer: lenient scalars, and errors that name the innermost key.

use serde::Deserialize;

use crate::config::de::{DeError, Node, Problem};
use toml::Value;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    count: u32,
    flag: bool,
    names: Vec<String>,
    inner: Inner,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Inner {
    level: u8,
}

fn read(text: &str) -> Result<Sample, DeError> {
    let table: toml::Table = toml::from_str(text).unwrap();
    Sample::deserialize(Node::new(Value::Table(table), "sample"))
}

#[test]
fn scalars_may_be_written_as_text() {
    let sample =
        read("count = \"4\"\nflag = \"TRUE\"\nnames = \"a, b,,c\"\n[inner]\nlevel = \" 7 \"\n")
            .unwrap();
    assert_eq!(sample.count, 4);
    assert!(sample.flag);
    assert_eq!(sample.names, ["a", "b", "c"]);
    assert_eq!(sample.inner.level, 7);
}

#[test]
fn errors_name_the_innermost_key() {
    let error = read("count = 1\nflag = true\nnames = []\n[inner]\nlevel = 300\n").unwrap_err();
    assert_eq!(error.full_key(), "sample.inner.level");
    assert_eq!(
        error.to_string(),
        "invalid number \"300\", expected a whole number from 0 to 255"
    );

    let error = read("count = 1\nflag = true\nnames = [1, {}]\n[inner]\nlevel = 3\n").unwrap_err();
    assert_eq!(error.full_key(), "sample.names[1]");
    assert_eq!(error.to_string(), "expected text, found a table");
}

#[test]
fn missing_and_unknown_keys() {
    let error = read("count = 1\nflag = true\nnames = []\n").unwrap_err();
    assert_eq!(error.problem, Problem::Missing("inner"));
    assert_eq!(error.full_key(), "sample.inner");

    let error = read("count = 1\nflg = true\n").unwrap_err();
    assert_eq!(error.problem, Problem::Unknown);
    assert_eq!(error.full_key(), "sample.flg");
}

#[test]
fn wrong_types_never_echo_text() {
    let error = read("count = 1\nflag = true\nnames = []\ninner = \"s3cret\"\n").unwrap_err();
    assert_eq!(error.full_key(), "sample.inner");
    assert!(!error.to_string().contains("s3cret"), "{error}");
}
