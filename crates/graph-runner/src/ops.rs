//! The registry of ops, as `graphrun ops` shows it.
//!
//! typetag keeps its registry private; the names are recovered from its "unknown variant"
//! message. Each op's summary and example come from its `voxflow_core::op_doc!`, and its
//! parameters from serialising it built from `{}` (its defaults) or, when some parameters are
//! required, from the example.

use serde::Serialize;
use voxflow_core::Op;

/// Every registered op name, sorted.
#[must_use]
pub fn known_ops() -> Vec<String> {
    let probe = serde_json::json!({"op": "\u{1}no such op\u{1}", "params": {}});
    let message = match serde_json::from_value::<Box<dyn Op>>(probe) {
        Ok(_) => return Vec::new(),
        Err(e) => e.to_string(),
    };
    let mut names: Vec<String> =
        crate::error_render::serde_expected(&message).into_iter().map(ToOwned::to_owned).collect();
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
    /// What the op does (from its `op_doc!`; empty when it has none).
    pub summary: String,
    /// A minimal valid `params` object (from its `op_doc!`; null when it has none).
    pub example: serde_json::Value,
    /// Every parameter with its JSON type and its default (or, for required ones, the
    /// example's value).
    pub params: Vec<ParamInfo>,
    /// Input port names with the kinds they accept (`?` marks optional ports).
    pub ports: Vec<String>,
    /// When the op cannot be built even from its example: why (serde's or `validate`'s message).
    pub required: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamInfo {
    pub name: String,
    pub json_type: &'static str,
    /// The default, or for a required parameter the example's value.
    pub default: serde_json::Value,
    /// True when `{}` cannot supply the parameter (its value here is only an example).
    pub required: bool,
}

fn json_type(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null (optional)",
        serde_json::Value::Bool(_) => "boolean",
        serde_json::Value::Number(n) if n.is_f64() => "number",
        serde_json::Value::Number(_) => "integer",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

fn build(name: &str, params: serde_json::Value) -> Result<Box<dyn Op>, String> {
    let op = serde_json::from_value::<Box<dyn Op>>(serde_json::json!({"op": name, "params": params}))
        .map_err(|e| e.to_string())?;
    op.validate().map_err(|e| e.to_string())?;
    Ok(op)
}

fn serialised_params(op: &dyn Op) -> serde_json::Map<String, serde_json::Value> {
    serde_json::to_value(op)
        .ok()
        .and_then(|v| v.get("params").and_then(|p| p.as_object()).cloned())
        .unwrap_or_default()
}

/// Describes one op: built from `{}` when that works, else from its documented example (the
/// parameters the example had to supply are marked required).
#[must_use]
pub fn describe_op(name: String) -> OpInfo {
    let doc = op_doc(&name);
    let summary = doc.map(|d| d.summary.to_owned()).unwrap_or_default();
    let example = doc.and_then(|d| serde_json::from_str(d.example).ok()).unwrap_or_default();
    let (op, from_example) = match build(&name, serde_json::json!({})) {
        Ok(op) => (op, false),
        Err(empty) => match doc.map(|d| serde_json::from_str(d.example).map_err(|e| e.to_string())) {
            Some(Ok(params)) => match build(&name, params) {
                Ok(op) => (op, true),
                Err(e) => {
                    return OpInfo {
                        name,
                        summary,
                        example,
                        params: Vec::new(),
                        ports: Vec::new(),
                        required: Some(format!("{empty}; the documented example fails too: {e}")),
                    };
                }
            },
            Some(Err(e)) => {
                return OpInfo {
                    name,
                    summary,
                    example,
                    params: Vec::new(),
                    ports: Vec::new(),
                    required: Some(format!("{empty}; the documented example is not JSON: {e}")),
                };
            }
            None => {
                return OpInfo {
                    name,
                    summary,
                    example,
                    params: Vec::new(),
                    ports: Vec::new(),
                    required: Some(empty),
                };
            }
        },
    };
    let params = serialised_params(&*op)
        .into_iter()
        .map(|(k, v)| {
            // A parameter is required when leaving it out of the example breaks the op.
            let required = from_example
                && example.as_object().is_some_and(|m| {
                    m.contains_key(&k) && {
                        let mut without = m.clone();
                        without.remove(&k);
                        build(&name, serde_json::Value::Object(without)).is_err()
                    }
                });
            ParamInfo { name: k, json_type: json_type(&v), default: v, required }
        })
        .collect();
    let ports = op
        .ports()
        .iter()
        .map(|p| {
            let kinds: Vec<String> = p.accepts.iter().map(ToString::to_string).collect();
            format!("{}{}: {}", p.name, if p.required { "" } else { "?" }, kinds.join("|"))
        })
        .collect();
    OpInfo { name, summary, example, params, ports, required: None }
}

/// Describes every registered op.
#[must_use]
pub fn describe_ops() -> Vec<OpInfo> {
    known_ops().into_iter().map(describe_op).collect()
}
