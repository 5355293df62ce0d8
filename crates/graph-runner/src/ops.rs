//! The registry of ops, as `graphrun ops` shows it.
//!
//! typetag keeps its registry private; the names are recovered from its "unknown variant"
//! message, and each op's parameters from serialising its defaults (or, for ops with required
//! parameters, from serde's "missing field" message).

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
    let Some((_, list)) = message.split_once("expected one of ") else {
        // serde says "expected `x`" when there is exactly one.
        return message.split('`').nth(3).map(|s| vec![s.to_owned()]).unwrap_or_default();
    };
    let mut names: Vec<String> =
        list.split(", ").map(|s| s.trim().trim_matches('`').to_owned()).filter(|s| !s.is_empty()).collect();
    names.sort();
    names.dedup();
    names
}

/// One op as `graphrun ops` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct OpInfo {
    pub name: String,
    /// Parameter name to its default value (as JSON) and JSON type.
    pub params: Vec<ParamInfo>,
    /// Input port names with the kinds they accept (`?` marks optional ports).
    pub ports: Vec<String>,
    /// What serde says is missing when no parameters are given (required parameters).
    pub required: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParamInfo {
    pub name: String,
    pub json_type: &'static str,
    pub default: serde_json::Value,
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

/// Describes every registered op.
#[must_use]
pub fn describe_ops() -> Vec<OpInfo> {
    known_ops()
        .into_iter()
        .map(|name| {
            let probe = serde_json::json!({"op": name, "params": {}});
            match serde_json::from_value::<Box<dyn Op>>(probe) {
                Ok(op) => {
                    let value = serde_json::to_value(&*op).unwrap_or_default();
                    let params = value
                        .get("params")
                        .and_then(|p| p.as_object())
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| ParamInfo {
                                    name: k.clone(),
                                    json_type: json_type(v),
                                    default: v.clone(),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let ports = op
                        .ports()
                        .iter()
                        .map(|p| {
                            let kinds: Vec<String> = p.accepts.iter().map(ToString::to_string).collect();
                            format!("{}{}: {}", p.name, if p.required { "" } else { "?" }, kinds.join("|"))
                        })
                        .collect();
                    OpInfo { name, params, ports, required: None }
                }
                Err(e) => {
                    OpInfo { name, params: Vec::new(), ports: Vec::new(), required: Some(e.to_string()) }
                }
            }
        })
        .collect()
}
