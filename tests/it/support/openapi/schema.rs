//! OpenAPI 3.0 schemas as JSON Schema draft 4 validators (the `jsonschema` crate).
//!
//! OpenAPI 3.0 differs from draft 4 in a few ways handled here: `nullable: true` becomes a
//! `null` type (and enum member); `$ref`s point into `#/components/schemas`, which is carried
//! along in the root document so they resolve. [`Strictness::Strict`] adds
//! `additionalProperties: false` to object schemas that list their `properties` and say nothing
//! about others (not to members of `allOf`/`anyOf`/`oneOf`, where it would reject the other
//! members' fields).

use jsonschema::{Draft, Validator};
use serde_json::{Map, Value, json};

/// Whether unknown object properties are rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Requests: unknown field names are errors.
    Strict,
    /// Responses: vendors may add fields.
    Lax,
}

/// A compiled schema.
pub struct Compiled {
    validator: Validator,
}

impl Compiled {
    /// Compiles `schema`, whose `$ref`s point into `doc`'s `components.schemas`.
    pub fn new(schema: &Value, doc: &Value, strictness: Strictness) -> Compiled {
        let mut schemas = doc["components"]["schemas"].clone();
        if let Some(map) = schemas.as_object_mut() {
            for child in map.values_mut() {
                normalize(child, strictness, false);
            }
        }
        let mut root = schema.clone();
        normalize(&mut root, strictness, false);
        let document = json!({"allOf": [root], "components": {"schemas": schemas}});
        let validator = jsonschema::options()
            .with_draft(Draft::Draft4)
            .build(&document)
            .unwrap_or_else(|error| panic!("the spec's schema does not compile: {error}"));
        Compiled { validator }
    }

    /// Every error, with where in the instance it is.
    pub fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|error| {
                let at = error.instance_path().to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                format!("{error} (at {at})")
            })
            .collect()
    }
}

/// Rewrites OpenAPI 3.0 specifics in place; adds strictness where it is safe.
fn normalize(node: &mut Value, strictness: Strictness, in_composition: bool) {
    let Some(map) = node.as_object_mut() else {
        return;
    };
    if map.remove("nullable") == Some(Value::Bool(true)) {
        make_nullable(map);
    }
    let composed = ["allOf", "anyOf", "oneOf"]
        .iter()
        .any(|key| map.contains_key(*key));
    if strictness == Strictness::Strict
        && !in_composition
        && !composed
        && map.contains_key("properties")
        && !map.contains_key("additionalProperties")
    {
        map.insert("additionalProperties".into(), Value::Bool(false));
    }
    for (key, child) in map.iter_mut() {
        match key.as_str() {
            "properties" | "patternProperties" | "definitions" => {
                for schema in child
                    .as_object_mut()
                    .into_iter()
                    .flat_map(|m| m.values_mut())
                {
                    normalize(schema, strictness, false);
                }
            }
            "allOf" | "anyOf" | "oneOf" => {
                for schema in child.as_array_mut().into_iter().flatten() {
                    normalize(schema, strictness, true);
                }
            }
            "items" | "additionalProperties" | "not" => match child {
                Value::Array(schemas) => schemas
                    .iter_mut()
                    .for_each(|schema| normalize(schema, strictness, false)),
                schema => normalize(schema, strictness, false),
            },
            _ => {}
        }
    }
}

/// `type: T` → `type: [T, "null"]`; an enum also accepts `null`.
fn make_nullable(map: &mut Map<String, Value>) {
    match map.get_mut("type") {
        Some(Value::String(kind)) => {
            let kind = kind.clone();
            map.insert("type".into(), json!([kind, "null"]));
        }
        Some(Value::Array(kinds)) if !kinds.contains(&json!("null")) => kinds.push(json!("null")),
        _ => {}
    }
    if let Some(Value::Array(values)) = map.get_mut("enum")
        && !values.contains(&Value::Null)
    {
        values.push(Value::Null);
    }
}

/// Checks one parameter value (as sent, a string) against the parameter's schema.
pub fn check_value(name: &str, value: &str, parameter: &Value, problems: &mut Vec<String>) {
    let Some(schema) = parameter.get("schema") else {
        return;
    };
    let mut schema = schema.clone();
    normalize(&mut schema, Strictness::Lax, false);
    let (schema, values): (Value, Vec<&str>) = if schema["type"] == "array" {
        let exploded = parameter["explode"].as_bool().unwrap_or(true);
        let values = if exploded {
            vec![value]
        } else {
            value.split(',').collect()
        };
        (schema["items"].clone(), values)
    } else {
        (schema, vec![value])
    };
    for value in values {
        let typed = match typed(value, &schema) {
            Ok(typed) => typed,
            Err(problem) => {
                problems.push(format!("parameter {name:?} = {value:?}: {problem}"));
                continue;
            }
        };
        let Ok(validator) = jsonschema::draft4::new(&schema) else {
            problems.push(format!("parameter {name:?}: its schema does not compile"));
            continue;
        };
        for error in validator.iter_errors(&typed) {
            problems.push(format!("parameter {name:?} = {value:?}: {error}"));
        }
    }
}

/// The string as the JSON value its schema's type calls for.
fn typed(value: &str, schema: &Value) -> Result<Value, String> {
    let kind = match &schema["type"] {
        Value::String(kind) => kind.as_str(),
        Value::Array(kinds) => kinds.iter().find_map(Value::as_str).unwrap_or("string"),
        _ => "string",
    };
    match kind {
        "integer" => value
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| "not an integer".into()),
        "number" => value
            .parse::<f64>()
            .map(Value::from)
            .map_err(|_| "not a number".into()),
        "boolean" => match value {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err("not true or false".into()),
        },
        _ => Ok(Value::String(value.to_owned())),
    }
}
