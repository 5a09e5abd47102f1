//! SOQL for the fake org: exactly the people-by-email (and active-user-by-email) queries calsync
//! sends, read by a strict
//! parser. A literal ended early by an unescaped quote, or an escape SOQL does not know, is a
//! 400 `MALFORMED_QUERY`, as it would be in Salesforce. Results are paged by `page_size`
//! (`done: false` with a `nextRecordsUrl`).

use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{SfState, error};

/// A parsed `SELECT Id, Email FROM <object> WHERE Email IN (...) [AND IsConverted = false]
/// [AND IsActive = true] [ORDER BY CreatedDate ASC]`.
#[derive(Debug, PartialEq)]
struct PeopleQuery {
    object: String,
    emails: Vec<String>,
    unconverted_only: bool,
    active_only: bool,
}

/// `GET /query?q=…`.
pub fn run(state: &mut SfState, version: &str, q: Option<&str>) -> Response {
    let Some(parsed) = q.and_then(parse) else {
        let message = format!("unexpected token in query: {}", q.unwrap_or(""));
        return error(400, "MALFORMED_QUERY", &message, &[]);
    };
    let wanted: Vec<String> = parsed.emails.iter().map(|e| e.to_lowercase()).collect();
    let records: Vec<Value> = state
        .records
        .iter()
        .filter(|r| r.object == parsed.object && !r.deleted)
        .filter(|r| wanted.contains(&r.text("Email").to_lowercase()))
        .filter(|r| !parsed.unconverted_only || r.fields.get("IsConverted") != Some(&json!(true)))
        .filter(|r| !parsed.active_only || r.fields.get("IsActive") == Some(&json!(true)))
        .map(|r| {
            let url = format!("/services/data/{version}/sobjects/{}/{}", r.object, r.id);
            json!({"attributes": {"type": r.object, "url": url}, "Id": r.id, "Email": r.text("Email")})
        })
        .collect();
    page(state, version, records)
}

/// `GET /query/{cursor}`: the next page.
pub fn next_page(state: &mut SfState, version: &str, cursor: &str) -> Response {
    match state.cursors.remove(cursor) {
        Some(records) => page(state, version, records),
        None => error(400, "INVALID_QUERY_LOCATOR", "invalid query locator", &[]),
    }
}

fn page(state: &mut SfState, version: &str, mut records: Vec<Value>) -> Response {
    let total = records.len();
    if records.len() <= state.page_size {
        let body = json!({"totalSize": total, "done": true, "records": records});
        return axum::Json(body).into_response();
    }
    let rest = records.split_off(state.page_size);
    let cursor = format!("01gFAKE{}-{}", state.cursors.len() + 1, state.page_size);
    state.cursors.insert(cursor.clone(), rest);
    let body = json!({
        "totalSize": total,
        "done": false,
        "nextRecordsUrl": format!("/services/data/{version}/query/{cursor}"),
        "records": records
    });
    axum::Json(body).into_response()
}

fn parse(query: &str) -> Option<PeopleQuery> {
    let rest = query.strip_prefix("SELECT Id, Email FROM ")?;
    let (object, rest) = rest.split_once(" WHERE Email IN (")?;
    if !matches!(object, "Contact" | "Lead" | "User") {
        return None;
    }
    let (emails, rest) = literals(rest)?;
    let mut rest = rest.trim_start();
    let mut unconverted_only = false;
    if let Some(after) = rest.strip_prefix("AND IsConverted = false") {
        unconverted_only = true;
        rest = after.trim_start();
    }
    let mut active_only = false;
    if let Some(after) = rest.strip_prefix("AND IsActive = true") {
        active_only = true;
        rest = after.trim_start();
    }
    if let Some(after) = rest.strip_prefix("ORDER BY CreatedDate ASC") {
        rest = after.trim_start();
    }
    // Users are only ever asked for when active; people never are.
    let user = object == "User";
    (rest.is_empty() && user == active_only).then(|| PeopleQuery {
        object: object.to_owned(),
        emails,
        unconverted_only,
        active_only,
    })
}

/// `'a', 'b')` → the values and what follows the `)`.
fn literals(text: &str) -> Option<(Vec<String>, &str)> {
    let mut values = Vec::new();
    let mut chars = text.char_indices().peekable();
    loop {
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        if chars.next()?.1 != '\'' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()?.1 {
                '\\' => value.push(match chars.next()?.1 {
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    c @ ('\'' | '"' | '\\') => c,
                    _ => return None,
                }),
                '\'' => break,
                c => value.push(c),
            }
        }
        values.push(value);
        while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
        match chars.next()? {
            (_, ',') => continue,
            (at, ')') => return Some((values, &text[at + 1..])),
            _ => return None,
        }
    }
}

#[test]
fn the_parser_reads_escapes_and_refuses_broken_literals() {
    let query = r"SELECT Id, Email FROM Contact WHERE Email IN ('a@x.com', 'o\'brien@x.com', 'a\\\'@x.com') ORDER BY CreatedDate ASC";
    let parsed = parse(query).unwrap();
    assert_eq!(
        parsed.emails,
        vec!["a@x.com", "o'brien@x.com", r"a\'@x.com"]
    );
    assert!(!parsed.unconverted_only);
    assert!(parse("SELECT Id, Email FROM Contact WHERE Email IN ('o'brien@x.com')").is_none());
    assert!(parse(r"SELECT Id, Email FROM Contact WHERE Email IN ('a\q@x.com')").is_none());
    assert!(parse("SELECT Id, Email FROM User WHERE Email IN ('a@x.com')").is_none());
    assert!(
        parse("SELECT Id, Email FROM User WHERE Email IN ('a@x.com') AND IsActive = true")
            .is_some()
    );
    let lead = "SELECT Id, Email FROM Lead WHERE Email IN ('a@x.com') AND IsConverted = false";
    assert!(parse(lead).unwrap().unconverted_only);
}
