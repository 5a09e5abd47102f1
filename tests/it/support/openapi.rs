//! A request validator built from the vendors' official OpenAPI 3.0 specs in
//! `../shared/specs/` or `CALSYNC_SPECS_DIR` (read in place, never copied): the fakes run every
//! request they receive through a [`Contract`], so a request the spec rejects fails the test.
//! Without the specs (a fresh clone elsewhere) there is no contract: the fakes answer unchecked
//! and the validator's own tests skip, announced once ([`super::specs`]); CI requires them.
//!
//! What is checked, per request:
//! - the path matches a path template of the spec (under the server's base path, e.g. Pipedrive's
//!   `/api/v2`) and the method is declared for it (the most literal template wins);
//! - every query parameter is declared, required ones are present, and values fit their schema
//!   (type, enum, array items); path parameters fit theirs; required header parameters are sent;
//! - the operation's security is met (`apiKey` header or query, OAuth2 or HTTP bearer as
//!   `Authorization: Bearer …`, HTTP basic);
//! - the body: present when required, absent when the operation takes none, a declared media
//!   type, and valid JSON against the request schema with `$ref`s resolved (JSON Schema draft 4,
//!   OpenAPI's `nullable` honoured). Request schemas are made strict: an object schema that
//!   lists its `properties` and says nothing about others rejects unknown ones, so a misspelt or
//!   v1 field name fails even though Pipedrive v2 would silently ignore it.
//!
//! [`Contract::check_response`] validates the fakes' own answers against the response schemas
//! (not strict: vendors add fields), so the fakes stay faithful too.
//!
//! Submodules: `checks` (parameters, security, body of a matched operation) and `schema`
//! (OpenAPI 3.0 schemas compiled as JSON Schema draft 4).
//!
//! The spec's own strictness is kept (`crms.md` quirks): HubSpot requires `associations` on
//! create and `after`, `limit`, `properties`, `sorts` on search, and the adapter must send them.

mod checks;
mod schema;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use axum::http::HeaderMap;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::specs::spec_file;
use schema::{Compiled, Strictness};

/// A request as a fake received it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The raw (percent-encoded) path.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// One vendor's specs.
pub struct Contract {
    specs: Vec<Spec>,
}

struct Spec {
    file: PathBuf,
    doc: Value,
    base_path: String,
    compiled: Mutex<HashMap<String, Arc<Compiled>>>,
}

/// The operation a request matched.
struct Matched<'s> {
    spec: &'s Spec,
    template: &'s str,
    method: String,
    params: HashMap<String, String>,
}

impl Contract {
    /// HubSpot: meetings (date-versioned), contacts v3, associations v4 and owners; `None`
    /// without the specs (skip announced).
    pub fn hubspot() -> Option<&'static Contract> {
        static CONTRACT: OnceLock<Option<Contract>> = OnceLock::new();
        CONTRACT
            .get_or_init(|| {
                Contract::load(&[
                    "hubspot/meetings-2026-03.json",
                    "hubspot/contacts-v3.json",
                    "hubspot/associations-v4.json",
                    "hubspot/owners-2026-03.json",
                ])
            })
            .as_ref()
    }

    /// Pipedrive API v2, and API v1 for users; `None` without the specs (skip announced). The
    /// v1 spec names `https://api.pipedrive.com/v1` as its server; on a company domain, as
    /// calsync calls it, v1 lives under `/api/v1`.
    pub fn pipedrive() -> Option<&'static Contract> {
        static CONTRACT: OnceLock<Option<Contract>> = OnceLock::new();
        CONTRACT
            .get_or_init(|| {
                let mut contract = Contract::load(&["pipedrive/pipedrive-v2.yaml"])?;
                let mut v1 = Spec::load(&spec_file("pipedrive/pipedrive-v1.yaml")?);
                v1.base_path = "/api/v1".to_owned();
                contract.specs.push(v1);
                Some(contract)
            })
            .as_ref()
    }

    /// The contract of `files`, or `None` when they are not available.
    fn load(files: &[&str]) -> Option<Contract> {
        let specs = files
            .iter()
            .map(|file| spec_file(file).map(|path| Spec::load(&path)))
            .collect::<Option<Vec<Spec>>>()?;
        Some(Contract { specs })
    }

    /// Every way `request` breaks the contract (empty: it conforms).
    pub fn check(&self, request: &Request<'_>) -> Vec<String> {
        let matched = match self.find(request.method, request.path) {
            Ok(matched) => matched,
            Err(problem) => return vec![problem],
        };
        let operation = matched.operation();
        let mut problems = Vec::new();
        matched.check_parameters(operation, request, &mut problems);
        matched.check_security(operation, request, &mut problems);
        matched.check_body(operation, request, &mut problems);
        let label = format!("{} {}", matched.method.to_uppercase(), matched.template);
        problems
            .into_iter()
            .map(|problem| format!("{label}: {problem}"))
            .collect()
    }

    /// Every way the answer `status`/`body` to `method path` differs from the spec's response.
    pub fn check_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Vec<String> {
        let Ok(matched) = self.find(method, path) else {
            return Vec::new(); // The request itself was reported.
        };
        let responses = &matched.operation()["responses"];
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get("default"));
        // OpenAPI need not list every status (Pipedrive declares only its successes).
        let Some(response) = response.map(|r| matched.spec.resolve(r)) else {
            return Vec::new();
        };
        let Some(schema) = json_schema(&response["content"]) else {
            return Vec::new();
        };
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return vec![format!("{method} {path}: answer {status} is not JSON")];
        };
        let key = format!("response {method} {} {status}", matched.template);
        let compiled = matched.spec.compile(&key, schema, Strictness::Lax);
        compiled
            .errors(&value)
            .into_iter()
            .map(|error| format!("{method} {path}: answer {status}: {error}"))
            .collect()
    }

    fn find(&self, method: &str, path: &str) -> Result<Matched<'_>, String> {
        let method = method.to_lowercase();
        let mut path_matched = false;
        let mut best: Option<(usize, Matched<'_>)> = None;
        for spec in &self.specs {
            let Some(rest) = path.strip_prefix(&spec.base_path) else {
                continue;
            };
            let Some(paths) = spec.doc["paths"].as_object() else {
                continue;
            };
            for (template, item) in paths {
                let Some(params) = match_template(template, rest) else {
                    continue;
                };
                path_matched = true;
                if item.get(&method).is_none() {
                    continue;
                }
                let literals = template.split('/').filter(|s| !s.starts_with('{')).count();
                if best.as_ref().is_none_or(|(count, _)| literals > *count) {
                    let matched = Matched {
                        spec,
                        template,
                        method: method.clone(),
                        params,
                    };
                    best = Some((literals, matched));
                }
            }
        }
        match best {
            Some((_, matched)) => Ok(matched),
            None if path_matched => Err(format!(
                "{} {path}: the method is not declared for this path",
                method.to_uppercase()
            )),
            None => Err(format!(
                "{} {path}: no such path in the spec",
                method.to_uppercase()
            )),
        }
    }
}

/// Path parameters by name when `path` fits `template` (segments compared decoded).
fn match_template(template: &str, path: &str) -> Option<HashMap<String, String>> {
    let wanted: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let given: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if wanted.len() != given.len() {
        return None;
    }
    let mut params = HashMap::new();
    for (pattern, segment) in wanted.iter().zip(&given) {
        let decoded = percent_decode_str(segment).decode_utf8_lossy().into_owned();
        match pattern.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
            Some(name) if !decoded.is_empty() => {
                params.insert(name.to_owned(), decoded);
            }
            Some(_) => return None,
            None if *pattern == decoded => {}
            None => return None,
        }
    }
    Some(params)
}

/// The JSON schema of a `content` map (`application/json`, else HubSpot's `*/*`).
fn json_schema(content: &Value) -> Option<&Value> {
    let content = content.as_object()?;
    content
        .iter()
        .find(|(media, _)| media.starts_with("application/json") || media.as_str() == "*/*")
        .and_then(|(_, media)| media.get("schema"))
}

impl Spec {
    fn load(file: &Path) -> Spec {
        let text = std::fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        let doc: Value = if file.extension().is_some_and(|ext| ext == "json") {
            serde_json::from_str(&text).unwrap()
        } else {
            serde_yaml_ng::from_str(&text).unwrap()
        };
        let server = doc["servers"][0]["url"].as_str().unwrap_or("");
        let base_path = url::Url::parse(server)
            .map(|url| url.path().trim_end_matches('/').to_owned())
            .unwrap_or_default();
        Spec {
            file: file.to_owned(),
            doc,
            base_path,
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// Follows `$ref` (repeatedly) within the document.
    fn resolve<'a>(&'a self, mut node: &'a Value) -> &'a Value {
        while let Some(reference) = node.get("$ref").and_then(Value::as_str) {
            let pointer = reference.strip_prefix('#').unwrap_or(reference);
            node = self
                .doc
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{}: dangling $ref {reference}", self.file.display()));
        }
        node
    }

    /// The compiled schema, cached under `key`.
    fn compile(&self, key: &str, schema: &Value, strictness: Strictness) -> Arc<Compiled> {
        let mut cache = self.compiled.lock().unwrap();
        cache
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(Compiled::new(schema, &self.doc, strictness)))
            .clone()
    }
}
