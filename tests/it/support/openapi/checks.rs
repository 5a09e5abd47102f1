//! The per-request checks of a matched operation: parameters, security, body.

use serde_json::Value;

use super::schema::{self, Strictness};
use super::{Matched, Request, json_schema};

impl Matched<'_> {
    pub(super) fn operation(&self) -> &Value {
        &self.spec.doc["paths"][self.template][&self.method]
    }

    /// The declared parameters (path item's, then the operation's), resolved.
    fn parameters<'a>(&'a self, operation: &'a Value) -> Vec<&'a Value> {
        let item = &self.spec.doc["paths"][self.template];
        [item, operation]
            .into_iter()
            .filter_map(|node| node.get("parameters").and_then(Value::as_array))
            .flatten()
            .map(|parameter| self.spec.resolve(parameter))
            .collect()
    }

    /// Query parameters allowed by an `apiKey`-in-query security scheme.
    fn query_keys(&self) -> Vec<String> {
        let schemes = &self.spec.doc["components"]["securitySchemes"];
        schemes
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, scheme)| scheme["type"] == "apiKey" && scheme["in"] == "query")
            .filter_map(|(_, scheme)| scheme["name"].as_str().map(str::to_owned))
            .collect()
    }

    pub(super) fn check_parameters(
        &self,
        operation: &Value,
        request: &Request<'_>,
        problems: &mut Vec<String>,
    ) {
        let declared = self.parameters(operation);
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(request.query.unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let auth_keys = self.query_keys();
        for (name, value) in &query {
            let parameter = declared
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name.as_str());
            match parameter {
                Some(parameter) => schema::check_value(name, value, parameter, problems),
                None if auth_keys.contains(name) => {}
                None => problems.push(format!("query parameter {name:?} is not declared")),
            }
        }
        for parameter in &declared {
            let name = parameter["name"].as_str().unwrap_or("");
            let required = parameter["required"].as_bool().unwrap_or(false);
            match parameter["in"].as_str() {
                Some("query") if required && !query.iter().any(|(key, _)| key == name) => {
                    problems.push(format!("required query parameter {name:?} is missing"));
                }
                Some("header") if required && !request.headers.contains_key(name) => {
                    problems.push(format!("required header {name:?} is missing"));
                }
                Some("path") => match self.params.get(name) {
                    Some(value) => schema::check_value(name, value, parameter, problems),
                    None => {
                        problems.push(format!("path parameter {name:?} is not in the template"))
                    }
                },
                _ => {}
            }
        }
    }

    pub(super) fn check_security(
        &self,
        operation: &Value,
        request: &Request<'_>,
        problems: &mut Vec<String>,
    ) {
        let Some(alternatives) = operation
            .get("security")
            .or_else(|| self.spec.doc.get("security"))
            .and_then(Value::as_array)
        else {
            return;
        };
        if alternatives.is_empty() {
            return;
        }
        let met = alternatives.iter().any(|alternative| {
            alternative
                .as_object()
                .is_some_and(|names| names.keys().all(|name| self.scheme_met(name, request)))
        });
        if !met {
            let names: Vec<String> = alternatives
                .iter()
                .filter_map(Value::as_object)
                .map(|names| names.keys().cloned().collect::<Vec<_>>().join("+"))
                .collect();
            problems.push(format!(
                "no security scheme is met (expected one of {})",
                names.join(", ")
            ));
        }
    }

    fn scheme_met(&self, name: &str, request: &Request<'_>) -> bool {
        let scheme = &self.spec.doc["components"]["securitySchemes"][name];
        let authorization = request
            .headers
            .get("authorization")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("");
        let with_prefix = |prefix: &str| {
            authorization
                .strip_prefix(prefix)
                .is_some_and(|rest| !rest.trim().is_empty())
        };
        match (scheme["type"].as_str(), scheme["in"].as_str()) {
            (Some("apiKey"), Some("header")) => {
                let header = scheme["name"].as_str().unwrap_or("");
                request
                    .headers
                    .get(header)
                    .is_some_and(|value| !value.is_empty())
            }
            (Some("apiKey"), Some("query")) => {
                let key = format!("{}=", scheme["name"].as_str().unwrap_or(""));
                request
                    .query
                    .unwrap_or("")
                    .split('&')
                    .any(|pair| pair.starts_with(&key))
            }
            (Some("oauth2" | "openIdConnect"), _) => with_prefix("Bearer "),
            (Some("http"), _) => match scheme["scheme"].as_str() {
                Some("basic") => with_prefix("Basic "),
                _ => with_prefix("Bearer "),
            },
            _ => false,
        }
    }

    pub(super) fn check_body(
        &self,
        operation: &Value,
        request: &Request<'_>,
        problems: &mut Vec<String>,
    ) {
        let Some(body_spec) = operation.get("requestBody").map(|b| self.spec.resolve(b)) else {
            if !request.body.is_empty() {
                problems.push("the operation takes no body, but one was sent".into());
            }
            return;
        };
        if request.body.is_empty() {
            if body_spec["required"].as_bool().unwrap_or(false) {
                problems.push("the required body is missing".into());
            }
            return;
        }
        let content_type = request
            .headers
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_owned();
        if body_spec["content"].get(&content_type).is_none() {
            problems.push(format!("media type {content_type:?} is not declared"));
            return;
        }
        let Some(schema) = json_schema(&body_spec["content"]) else {
            return;
        };
        let body: Value = match serde_json::from_slice(request.body) {
            Ok(body) => body,
            Err(error) => {
                problems.push(format!("the body is not JSON: {error}"));
                return;
            }
        };
        let key = format!("request {} {}", self.method, self.template);
        let compiled = self.spec.compile(&key, schema, Strictness::Strict);
        problems.extend(
            compiled
                .errors(&body)
                .into_iter()
                .map(|e| format!("body: {e}")),
        );
    }
}
