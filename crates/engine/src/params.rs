//! A task's parameters: a JSON Schema that every payload is checked against before it
//! is enqueued (submit, submitMany, run, schedule, HTTP), and the parameter list that
//! the registry shows (chapkit's `parameters`).
//!
//! `params` is either a JSON Schema or the shorthand `{ url: 'string', width: 'number?' }`:
//! an object payload with those properties, `?` marking an optional one, no others.

use std::sync::Arc;

use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::error::{EngineError, ParamIssue, Result};

/// Keywords that make an object a JSON Schema rather than the shorthand.
const SCHEMA_KEYWORDS: &[&str] = &[
    "$schema", "$ref", "$defs", "$id", "type", "properties", "required", "items", "enum",
    "const", "anyOf", "oneOf", "allOf", "not", "additionalProperties", "patternProperties",
    "definitions", "if", "minimum", "maximum", "minLength", "maxLength", "pattern", "format",
];

/// The type names the shorthand accepts.
const TYPES: &[&str] = &["string", "number", "integer", "boolean", "object", "array", "null"];

/// At most this many problems are reported for one payload.
const MAX_ISSUES: usize = 20;

/// A compiled parameter schema.
#[derive(Clone)]
pub struct Params {
    schema: Value,
    validator: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Params").field(&self.schema).finish()
    }
}

/// One entry of the registry's parameter list.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Parameter {
    pub name: String,
    /// The JSON Schema type (`"string"`, `"integer | null"`), or `"any"`.
    pub annotation: String,
    /// The schema's `default`, as the JSON value it is (null when there is none).
    pub default: Value,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl Params {
    /// Compiles `params` of task `task`: a JSON Schema, or the shorthand.
    pub fn from_spec(task: &str, spec: Value) -> Result<Params> {
        let schema = match spec {
            Value::Object(ref m) if !m.is_empty() && !m.keys().any(|k| SCHEMA_KEYWORDS.contains(&k.as_str())) => {
                shorthand(task, m)?
            }
            Value::Object(_) | Value::Bool(_) => spec,
            other => {
                return Err(EngineError::invalid(format!(
                    "`params` of task '{task}' must be a JSON Schema object or {{ name: 'type' }}, got {other}"
                )))
            }
        };
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| {
                EngineError::invalid(format!(
                    "`params` of task '{task}' is not a valid JSON Schema: {e} (at {})",
                    pointer(&e.instance_path().to_string())
                ))
            })?;
        Ok(Params {
            schema,
            validator: Arc::new(validator),
        })
    }

    /// The JSON Schema (the shorthand expanded).
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Checks one payload (JSON text); the error lists each problem with its path.
    pub fn check(&self, task: &str, payload: &str) -> Result<()> {
        let value: Value = serde_json::from_str(payload)
            .map_err(|e| EngineError::invalid(format!("the payload of task '{task}' is not JSON: {e}")))?;
        if self.validator.is_valid(&value) {
            return Ok(());
        }
        let issues: Vec<ParamIssue> = self
            .validator
            .iter_errors(&value)
            .take(MAX_ISSUES)
            .map(|e| ParamIssue {
                path: pointer(&e.instance_path().to_string()),
                message: e.to_string(),
            })
            .collect();
        Err(EngineError::InvalidParams {
            task: task.to_string(),
            issues,
        })
    }

    /// The top-level properties of an object schema, in the schema's order.
    pub fn parameters(&self) -> Vec<Parameter> {
        let Some(props) = self.schema.get("properties").and_then(Value::as_object) else {
            return Vec::new();
        };
        let required: Vec<&str> = self
            .schema
            .get("required")
            .and_then(Value::as_array)
            .map(|r| r.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        props
            .iter()
            .map(|(name, p)| Parameter {
                name: name.clone(),
                annotation: annotation(p),
                default: p.get("default").cloned().unwrap_or(Value::Null),
                required: required.contains(&name.as_str()),
                description: p.get("description").and_then(Value::as_str).map(str::to_string),
            })
            .collect()
    }

    /// A signature for people: `(a: integer, b: integer, name?: string = "World")`.
    pub fn signature(&self) -> String {
        let parts: Vec<String> = self
            .parameters()
            .into_iter()
            .map(|p| {
                let mark = if p.required { "" } else { "?" };
                match p.default {
                    Value::Null => format!("{}{mark}: {}", p.name, p.annotation),
                    d => format!("{}{mark}: {} = {d}", p.name, p.annotation),
                }
            })
            .collect();
        format!("({})", parts.join(", "))
    }
}

/// `{ url: 'string', width: 'number?' }` as a JSON Schema.
fn shorthand(task: &str, m: &Map<String, Value>) -> Result<Value> {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for (name, t) in m {
        let Some(t) = t.as_str() else {
            return Err(EngineError::invalid(format!(
                "`params.{name}` of task '{task}' must be a type name such as 'string' or 'number?', got {t} (for more, give a JSON Schema with `type: 'object'` and `properties`)"
            )));
        };
        let (base, optional) = match t.strip_suffix('?') {
            Some(b) => (b, true),
            None => (t, false),
        };
        if base != "any" && !TYPES.contains(&base) {
            return Err(EngineError::invalid(format!(
                "`params.{name}` of task '{task}' names an unknown type '{t}' (expected one of {}, or 'any'; '?' marks it optional)",
                TYPES.join(", ")
            )));
        }
        properties.insert(name.clone(), if base == "any" { json!({}) } else { json!({ "type": base }) });
        if !optional {
            required.push(Value::from(name.as_str()));
        }
    }
    Ok(json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    }))
}

fn annotation(p: &Value) -> String {
    match p.get("type") {
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" | "),
        _ if p.get("enum").is_some() => "enum".to_string(),
        _ => "any".to_string(),
    }
}

/// A JSON pointer for people: the whole payload is `/`.
fn pointer(p: &str) -> String {
    if p.is_empty() {
        "/".to_string()
    } else {
        p.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issues(e: EngineError) -> Vec<ParamIssue> {
        match e {
            EngineError::InvalidParams { issues, .. } => issues,
            other => panic!("expected InvalidParams, got {other:?}"),
        }
    }

    #[test]
    fn shorthand_requires_its_properties_and_refuses_others() {
        let p = Params::from_spec("resize", json!({ "url": "string", "width": "number?" })).unwrap();
        p.check("resize", r#"{"url":"a"}"#).unwrap();
        p.check("resize", r#"{"url":"a","width":3}"#).unwrap();
        let i = issues(p.check("resize", r#"{"width":"x"}"#).unwrap_err());
        assert!(i.iter().any(|i| i.path == "/width"), "{i:?}");
        assert!(i.iter().any(|i| i.path == "/" && i.message.contains("url")), "{i:?}");
        assert!(p.check("resize", r#"{"url":"a","height":1}"#).is_err());
        assert_eq!(
            p.parameters(),
            vec![
                Parameter { name: "url".into(), annotation: "string".into(), default: Value::Null, required: true, description: None },
                Parameter { name: "width".into(), annotation: "number".into(), default: Value::Null, required: false, description: None },
            ]
        );
    }

    #[test]
    fn a_schema_is_used_as_given() {
        let schema = json!({
            "type": "object",
            "properties": { "a": { "type": "integer" }, "name": { "type": "string", "default": "World" } },
            "required": ["a"]
        });
        let p = Params::from_spec("add", schema.clone()).unwrap();
        assert_eq!(p.schema(), &schema);
        p.check("add", r#"{"a":1,"extra":true}"#).unwrap();
        let e = p.check("add", r#"{"a":1.5}"#).unwrap_err();
        assert!(e.to_string().contains("/a"), "{e}");
        assert_eq!(p.signature(), r#"(a: integer, name?: string = "World")"#);
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let e = Params::from_spec("t", json!({ "x": "strng" })).unwrap_err();
        assert!(e.to_string().contains("unknown type 'strng'"), "{e}");
        let e = Params::from_spec("t", json!({ "type": "object", "minimum": "x" })).unwrap_err();
        assert!(e.to_string().contains("not a valid JSON Schema"), "{e}");
        assert!(Params::from_spec("t", json!("string")).is_err());
    }

    #[test]
    fn formats_are_checked() {
        let p = Params::from_spec("t", json!({ "type": "string", "format": "email" })).unwrap();
        p.check("t", r#""a@b.co""#).unwrap();
        assert!(p.check("t", r#""not an email""#).is_err());
    }
}
