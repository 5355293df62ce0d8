//! The registry of ops, as `graphrun ops` shows it.
//!
//! One table: every op registers a `voxflow_core::OpDoc` next to its typetag impl
//! (`op_doc!(name, ParamsType, summary, example)`), carrying its parameter type's JSON Schema
//! (schemars, from the type itself and its doc comments). The op names, `graphrun ops [NAME]`,
//! the graph's JSON Schema and the "did you mean" suggestions all read it; nothing parses
//! another library's error text.

use serde::Serialize;
use serde_json::{Map, Value};
use voxflow_core::Op;

/// Every registered op name, sorted.
#[must_use]
pub fn known_ops() -> Vec<String> {
    let mut names: Vec<String> = voxflow_core::op_docs().map(|d| d.name.to_owned()).collect();
    names.sort();
    names.dedup();
    names
}

/// The documentation registered for `name` with `voxflow_core::op_doc!`, if any.
#[must_use]
pub fn op_doc(name: &str) -> Option<&'static voxflow_core::OpDoc> {
    voxflow_core::op_docs().find(|d| d.name == name)
}

/// One op as `graphrun ops` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OpInfo {
    pub name: String,
    /// What the op does (from its `op_doc!`).
    pub summary: String,
    /// A minimal valid `params` object (from its `op_doc!`).
    pub example: Value,
    /// Every parameter, from the parameter type's schema.
    pub params: Vec<ParamInfo>,
    /// Input port names with the kinds they accept (`?` marks optional ports).
    pub ports: Vec<String>,
    /// When the op cannot be built from its documented example: why.
    pub required: Option<String>,
}

/// One parameter of an op.
#[derive(Debug, Clone, Serialize)]
pub struct ParamInfo {
    pub name: String,
    /// The JSON type (`number`, `integer`, `boolean`, `string`, `array`, `object`, or `any` for
    /// a choice between types).
    pub json_type: &'static str,
    /// The type in words: `array of 3 numbers`, `one of "nearest", "linear"`, ...
    pub type_text: String,
    /// The values it may take, when it is a choice (enum values).
    pub allowed: Vec<Value>,
    /// Its default, or for a required parameter the documented example's value.
    pub default: Value,
    /// Whether a graph must give it.
    pub required: bool,
    /// Its doc comment.
    pub description: String,
}

/// The schema of an op's `params` with the definitions it refers to.
fn params_schema(doc: &voxflow_core::OpDoc) -> (Value, Map<String, Value>) {
    let mut generator = schemars::SchemaGenerator::default();
    let schema = (doc.params_schema)(&mut generator).to_value();
    let defs = generator.take_definitions(true).into_iter().collect();
    (schema, defs)
}

/// Follows `$ref`s into the definitions.
fn resolve<'a>(schema: &'a Value, defs: &'a Map<String, Value>) -> &'a Value {
    let mut s = schema;
    for _ in 0..8 {
        match s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
            .and_then(|n| defs.get(n))
        {
            Some(target) => s = target,
            None => break,
        }
    }
    s
}

/// A schema in words, its JSON type and its allowed values.
fn describe_type(schema: &Value, defs: &Map<String, Value>) -> (String, &'static str, Vec<Value>) {
    let s = resolve(schema, defs);
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return (one_of(values), "string", values.clone());
    }
    if let Some(value) = s.get("const") {
        return (value.to_string(), "string", vec![value.clone()]);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            let parts: Vec<(String, &'static str, Vec<Value>)> = branches
                .iter()
                .filter(|b| resolve(b, defs).get("type").and_then(Value::as_str) != Some("null"))
                .map(|b| describe_type(b, defs))
                .collect();
            let allowed: Vec<Value> = parts.iter().flat_map(|p| p.2.clone()).collect();
            if parts.iter().all(|p| !p.2.is_empty()) {
                return (one_of(&allowed), "string", allowed);
            }
            let nullable = parts.len() < branches.len();
            let text = parts.iter().map(|p| p.0.clone()).collect::<Vec<_>>().join(" or ");
            let json_type = if let [only] = parts.as_slice() { only.1 } else { "any" };
            return (if nullable { format!("{text} or null") } else { text }, json_type, allowed);
        }
    }
    let types: Vec<&str> = match s.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let nullable = types.contains(&"null");
    let main: Vec<&str> = types.into_iter().filter(|t| *t != "null").collect();
    let (text, json_type) = match main.as_slice() {
        ["array"] => {
            let item =
                s.get("items").map_or_else(|| "values".to_owned(), |i| plural(&describe_type(i, defs).0));
            let len = match (
                s.get("minItems").and_then(Value::as_u64),
                s.get("maxItems").and_then(Value::as_u64),
            ) {
                (Some(a), Some(b)) if a == b => format!("{a} "),
                _ => String::new(),
            };
            (format!("array of {len}{item}"), "array")
        }
        ["object"] => {
            // An internally tagged variant (`{"type": "simard", ...}`) is named by its tag.
            let tag = s.get("properties").and_then(Value::as_object).and_then(|props| {
                props
                    .iter()
                    .find_map(|(k, p)| resolve(p, defs).get("const").map(|c| format!("object with {k} {c}")))
            });
            (tag.unwrap_or_else(|| "object".to_owned()), "object")
        }
        ["number"] => ("number".to_owned(), "number"),
        ["integer"] => ("integer".to_owned(), "integer"),
        ["boolean"] => ("boolean".to_owned(), "boolean"),
        ["string"] => ("string".to_owned(), "string"),
        [] => ("any value".to_owned(), "any"),
        many => (many.join(" or "), "any"),
    };
    (if nullable { format!("{text} or null") } else { text }, json_type, Vec::new())
}

fn one_of(values: &[Value]) -> String {
    let list: Vec<String> = values.iter().map(Value::to_string).collect();
    format!("one of {}", list.join(", "))
}

fn plural(text: &str) -> String {
    match text {
        "number" | "integer" | "boolean" | "string" | "object" => format!("{text}s"),
        other => other.to_owned(),
    }
}

/// Describes one op from its registered doc and parameter schema.
#[must_use]
pub fn describe_op(name: String) -> OpInfo {
    let Some(doc) = op_doc(&name) else {
        return OpInfo {
            name,
            summary: String::new(),
            example: Value::Null,
            params: Vec::new(),
            ports: Vec::new(),
            required: Some("no op_doc! is registered for this op".to_owned()),
        };
    };
    let example: Value = serde_json::from_str(doc.example).unwrap_or(Value::Null);
    let (schema, defs) = params_schema(doc);
    let schema = resolve(&schema, &defs);
    let required_names: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let params = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(k, p)| {
                    let (type_text, json_type, allowed) = describe_type(p, &defs);
                    let required = required_names.contains(&k.as_str());
                    // A flag that is left out of the JSON when false (to keep manifests as they
                    // were before it existed) has no default in the schema: it is false.
                    let default = if required {
                        example.get(k).cloned()
                    } else {
                        p.get("default")
                            .cloned()
                            .or_else(|| (json_type == "boolean").then_some(Value::Bool(false)))
                    };
                    let description = p
                        .get("description")
                        .or_else(|| resolve(p, &defs).get("description"))
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .replace('\n', " ");
                    ParamInfo {
                        name: k.clone(),
                        json_type,
                        type_text,
                        allowed,
                        default: default.unwrap_or(Value::Null),
                        required,
                        description,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let built = serde_json::from_value::<Box<dyn Op>>(serde_json::json!({"op": name, "params": example}))
        .map_err(|e| e.to_string())
        .and_then(|op| op.validate().map(|()| op).map_err(|e| e.to_string()));
    let (ports, required) = match built {
        Ok(op) => (
            op.ports()
                .iter()
                .map(|p| {
                    let kinds: Vec<String> = p.accepts.iter().map(ToString::to_string).collect();
                    format!("{}{}: {}", p.name, if p.required { "" } else { "?" }, kinds.join("|"))
                })
                .collect(),
            None,
        ),
        Err(e) => (Vec::new(), Some(format!("the documented example fails: {e}"))),
    };
    OpInfo { name, summary: doc.summary.to_owned(), example, params, ports, required }
}

/// Describes every registered op.
#[must_use]
pub fn describe_ops() -> Vec<OpInfo> {
    known_ops().into_iter().map(describe_op).collect()
}
