//! Contract test: every endpoint the client uses (method, path template, query parameters,
//! request body fields and the response fields it reads) exists in the official Nylas OpenAPI
//! spec (`../shared/specs/nylas/nylas-api.yaml`), so a typo in a path or a parameter fails here
//! instead of in production. Without the specs (a fresh clone elsewhere) the tests skip, saying
//! so once on stderr; see `tests/it/support/specs.rs`.

use std::path::Path;
use std::sync::OnceLock;

use serde_yaml_ng::Value;

use super::endpoint::*;
use super::subscriptions::NewSubscription;

/// The response fields the client reads from each endpoint's success answer (dotted paths;
/// arrays are looked through).
const READS: &[(&Endpoint, &[&str])] = &[
    (
        GET_EVENT,
        &[
            "data.id",
            "data.calendar_id",
            "data.when",
            "data.updated_at",
            "data.status",
        ],
    ),
    (LIST_EVENTS, &["data.id", "data.updated_at", "next_cursor"]),
    (
        LIST_CALENDARS,
        &[
            "data.id",
            "data.is_primary",
            "data.read_only",
            "data.timezone",
            "next_cursor",
        ],
    ),
    (
        LIST_GRANTS,
        &[
            "data.id",
            "data.provider",
            "data.grant_status",
            "data.email",
        ],
    ),
    (GET_GRANT, &["data.id", "data.grant_status", "data.email"]),
    (
        CREATE_SUBSCRIPTION,
        &[
            "data.id",
            "data.webhook_secret",
            "data.webhook_url",
            "data.status",
        ],
    ),
    (
        LIST_SUBSCRIPTIONS,
        &[
            "data.id",
            "data.webhook_url",
            "data.status",
            "data.trigger_types",
            "data.description",
            "data.notification_email_addresses",
        ],
    ),
    (
        ROTATE_SUBSCRIPTION_SECRET,
        &["data.id", "data.webhook_secret", "data.webhook_url"],
    ),
    (DELETE_SUBSCRIPTION, &[]),
];

/// Where the specs are found (`CALSYNC_SPECS_DIR`, else `../shared/specs`), shared with the
/// integration tests.
#[path = "../../../tests/it/support/specs.rs"]
mod specs;

/// The parsed spec, read once for all tests of this module; `None` when the specs are not
/// available (the test skips, and the skip was announced on stderr).
fn spec() -> Option<&'static Value> {
    static SPEC: OnceLock<Option<Value>> = OnceLock::new();
    SPEC.get_or_init(|| specs::spec_file("nylas/nylas-api.yaml").map(|path| load_spec(&path)))
        .as_ref()
}

fn load_spec(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Follows `$ref: '#/a/b'` (repeatedly) to the referenced node.
fn resolve<'a>(spec: &'a Value, mut node: &'a Value) -> &'a Value {
    while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let pointer = reference
            .strip_prefix("#/")
            .unwrap_or_else(|| panic!("external $ref {reference}"));
        node = pointer.split('/').fold(spec, |at, key| {
            at.get(key)
                .unwrap_or_else(|| panic!("dangling $ref {reference}"))
        });
    }
    node
}

/// `(name, in)` of every parameter declared for the path and the operation.
fn parameters(spec: &Value, path_item: &Value, operation: &Value) -> Vec<(String, String)> {
    [path_item, operation]
        .into_iter()
        .filter_map(|node| node.get("parameters").and_then(Value::as_sequence))
        .flatten()
        .map(|parameter| {
            let parameter = resolve(spec, parameter);
            let text = |key: &str| {
                parameter
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned()
            };
            (text("name"), text("in"))
        })
        .collect()
}

/// True when `schema` (through refs, `allOf`/`anyOf`/`oneOf` and array items) has `field`.
fn has_field(spec: &Value, schema: &Value, field: &[&str]) -> bool {
    let schema = resolve(spec, schema);
    let Some((first, rest)) = field.split_first() else {
        return true;
    };
    for combinator in ["allOf", "anyOf", "oneOf"] {
        if let Some(branches) = schema.get(combinator).and_then(Value::as_sequence)
            && branches.iter().any(|branch| has_field(spec, branch, field))
        {
            return true;
        }
    }
    if let Some(items) = schema.get("items") {
        return has_field(spec, items, field);
    }
    schema
        .get("properties")
        .and_then(|properties| properties.get(*first))
        .is_some_and(|property| has_field(spec, property, rest))
}

/// The JSON schema of an operation's 200 answer.
fn success_schema<'a>(spec: &'a Value, operation: &'a Value) -> &'a Value {
    let response = operation
        .get("responses")
        .and_then(|responses| responses.get("200"))
        .expect("a documented 200 answer");
    resolve(spec, response)
        .get("content")
        .and_then(|content| content.get("application/json"))
        .and_then(|json| json.get("schema"))
        .expect("a JSON schema for the 200 answer")
}

fn operation<'a>(spec: &'a Value, endpoint: &Endpoint) -> (&'a Value, &'a Value) {
    let path_item = spec
        .get("paths")
        .and_then(|paths| paths.get(endpoint.path))
        .unwrap_or_else(|| panic!("{endpoint}: the path is not in the spec"));
    let operation = path_item
        .get(endpoint.verb.as_openapi())
        .unwrap_or_else(|| panic!("{endpoint}: the method is not in the spec"));
    (path_item, operation)
}

#[test]
fn every_endpoint_the_client_uses_is_in_the_spec() {
    let Some(spec) = spec() else {
        return;
    };
    assert_eq!(READS.len(), ALL.len(), "every endpoint has its READS entry");
    for (endpoint, reads) in READS {
        assert!(ALL.contains(endpoint), "{endpoint} is not in ALL");
        let (path_item, operation) = operation(spec, endpoint);
        let declared = parameters(spec, path_item, operation);

        let placeholders = endpoint
            .path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'));
        for name in placeholders {
            let wanted = (name.to_owned(), "path".to_owned());
            assert!(
                declared.contains(&wanted),
                "{endpoint}: path parameter {name} undeclared"
            );
        }
        for name in endpoint.query {
            let wanted = (name.to_string(), "query".to_owned());
            assert!(
                declared.contains(&wanted),
                "{endpoint}: unknown query parameter {name}"
            );
        }
        let schema = success_schema(spec, operation);
        for field in *reads {
            let path: Vec<&str> = field.split('.').collect();
            assert!(
                has_field(spec, schema, &path),
                "{endpoint}: no {field} in the answer"
            );
        }
    }
}

#[test]
fn the_subscription_body_uses_only_documented_fields() {
    let Some(spec) = spec() else {
        return;
    };
    let (_, operation) = operation(spec, CREATE_SUBSCRIPTION);
    let schema = operation
        .get("requestBody")
        .map(|body| resolve(spec, body))
        .and_then(|body| body.get("content"))
        .and_then(|content| content.get("application/json"))
        .and_then(|json| json.get("schema"))
        .expect("a JSON request body");
    let full = NewSubscription {
        trigger_types: vec!["event.created".into()],
        webhook_url: "https://h/w".into(),
        description: Some("d".into()),
        notification_email_addresses: vec!["a@b.c".into()],
    };
    let body = serde_json::to_value(&full).unwrap();
    let fields = body.as_object().unwrap().keys();
    assert_eq!(fields.len(), 4);
    for field in fields {
        assert!(
            has_field(spec, schema, &[field]),
            "undocumented body field {field}"
        );
    }
}

#[test]
fn the_checker_rejects_what_is_not_there() {
    let Some(spec) = spec() else {
        return;
    };
    let paths = spec.get("paths").unwrap();
    assert!(paths.get("/v3/webhooks/{id}/rotate-secret").is_none());
    let (path_item, operation) = operation(spec, LIST_EVENTS);
    let declared = parameters(spec, path_item, operation);
    assert!(!declared.contains(&("calendar".to_owned(), "query".to_owned())));
    assert!(!has_field(
        spec,
        success_schema(spec, operation),
        &["data", "no_such_field"]
    ));
    assert!(!has_field(
        spec,
        success_schema(spec, operation),
        &["cursor"]
    ));
}
