//! The JSON Schema of the graph file (`graphrun schema`, checked in as
//! `graphs/graph.schema.json`), precise enough to drive an editor.
//!
//! The top level and the node come from [`GraphFile`]'s `schemars` derive. Each op's
//! parameters come from the op registry: every `voxflow_core::op_doc!` names the op's parameter
//! type, whose derived schema ([`voxflow_core::OpDoc::params_schema`]) carries its fields'
//! types, enum values, array lengths, defaults and doc comments. The node schema then gets
//!
//! * `op`: an `enum` of every op name (with `enumDescriptions`, VS Code's summaries), so an
//!   editor completes it and a misspelled op is an error on `op`;
//! * per op, `if {"op": {"const": name}} then {"params": <that op's schema>}`, so errors
//!   about a node's parameters come from its own op's schema only, and `params` is required
//!   when the op has a required parameter. As graphrun reads it, `"params": null` means all
//!   defaults: the schema allows it exactly for the ops without a required parameter.
//!
//! Nothing here parses an error message: names, summaries and schemas are the registry's.

use crate::graph::GraphFile;
use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value};

/// The JSON Schema of the graph file format.
#[must_use]
pub fn schema() -> Schema {
    // Op docs are collected at link time: make sure every op crate is linked.
    crate::register_all();
    let mut generator = SchemaGenerator::default();
    let mut root = generator.root_schema_for::<GraphFile>();
    let mut docs: Vec<&voxflow_core::OpDoc> = voxflow_core::op_docs().collect();
    docs.sort_by_key(|d| d.name);
    docs.dedup_by_key(|d| d.name);

    let mut branches = Vec::with_capacity(docs.len());
    for doc in &docs {
        let mut params = (doc.params_schema)(&mut generator);
        let has_required = params.get("required").and_then(Value::as_array).is_some_and(|r| !r.is_empty());
        if !has_required {
            allow_null(&mut params);
        }
        let mut then = json_schema!({"properties": {"params": params}});
        if has_required {
            then.insert("required".to_owned(), serde_json::json!(["params"]));
        }
        branches.push(serde_json::json!({
            "if": {"properties": {"op": {"const": doc.name}}, "required": ["op"]},
            "then": then,
        }));
    }

    let root_object = root.ensure_object();
    // The op schemas added definitions (shared enums, nested parameter types) to the
    // generator: the root's `$defs` is all of them.
    let definitions = root_object.entry("$defs").or_insert_with(|| Value::Object(Map::new()));
    if let Value::Object(definitions) = definitions {
        for (name, definition) in generator.definitions() {
            let mut definition = definition.clone();
            // A parameter type referenced by another op (e.g. the op a random op draws).
            voxflow_core::doc::strip_code_examples(&mut definition);
            definitions.entry(name.clone()).or_insert(definition);
        }
        if let Some(Value::Object(node)) = definitions.get_mut("NodeSpec") {
            let op_property = node
                .get_mut("properties")
                .and_then(Value::as_object_mut)
                .and_then(|properties| properties.get_mut("op"))
                .and_then(Value::as_object_mut);
            if let Some(op) = op_property {
                op.remove("type");
                op.insert("enum".to_owned(), docs.iter().map(|d| d.name).collect());
                op.insert("enumDescriptions".to_owned(), docs.iter().map(|d| d.summary).collect());
            }
            node.insert("allOf".to_owned(), Value::Array(branches));
            // The list form (`crate::expand`): `volume` may list nodes, and so may an apply's
            // `draw` (the only op with a `draw` port); every other port names one node.
            if let Some(properties) = node.get_mut("properties").and_then(Value::as_object_mut) {
                let one_or_many = serde_json::json!({"anyOf": [
                    {"type": "string"},
                    {"type": "array", "items": {"type": "string"}, "minItems": 1}
                ]});
                properties.insert(
                    "inputs".to_owned(),
                    serde_json::json!({
                        "description": "Port name to the name of the node feeding it. `volume` may list several nodes (one node per volume, named `{name}.{volume}`), and an `apply`'s `draw` several draws (applied in order).",
                        "type": "object",
                        "properties": {"volume": one_or_many, "draw": one_or_many},
                        "additionalProperties": {"type": "string"}
                    }),
                );
            }
        }
    }
    root
}

/// Lets an op's parameter schema also match `null` (graphrun reads `"params": null` as all
/// defaults).
fn allow_null(params: &mut Schema) {
    match params.get("type") {
        Some(Value::String(t)) if t == "object" => {
            params.insert("type".to_owned(), serde_json::json!(["object", "null"]));
        }
        _ => *params = json_schema!({"anyOf": [params.clone(), {"type": "null"}]}),
    }
}

/// [`schema`] as pretty-printed JSON with a final newline (what `graphrun schema` prints and
/// `graphs/graph.schema.json` holds).
#[must_use]
pub fn schema_json() -> String {
    let mut text = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    text.push('\n');
    text
}
