//! Every registered op is documented exactly once (`voxflow_core::op_doc!`), and its example
//! parameters build a valid op, so `graphrun ops` can describe it.

use voxflow_core::Op;

/// The op names typetag knows, sorted.
fn typetag_names() -> Vec<String> {
    let probe = serde_json::json!({"op": "\u{1}no such op\u{1}", "params": {}});
    let message = match serde_json::from_value::<Box<dyn Op>>(probe) {
        Ok(_) => return Vec::new(),
        Err(e) => e.to_string(),
    };
    let mut names: Vec<String> = voxflow_graph_runner::error_render::serde_expected(&message)
        .into_iter()
        .map(ToOwned::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_op_has_exactly_one_doc_with_a_valid_example() {
    voxflow_graph_runner::register_all();
    // What typetag registered (recovered from its "unknown variant" message, here in the test
    // only), against the op_doc! registry that everything else reads.
    let ops = typetag_names();
    assert!(ops.len() > 30, "too few ops found: {ops:?}");
    assert_eq!(voxflow_graph_runner::ops::known_ops(), ops, "the op_doc! registry and typetag differ");
    let mut problems = Vec::new();
    for name in &ops {
        let docs: Vec<_> = voxflow_core::op_docs().filter(|d| d.name == name).collect();
        if docs.len() != 1 {
            problems.push(format!("`{name}` has {} op_doc! entries, expected 1", docs.len()));
            continue;
        }
        let doc = docs[0];
        if doc.summary.trim().is_empty() {
            problems.push(format!("`{name}` has an empty summary"));
        }
        let params: serde_json::Value = match serde_json::from_str(doc.example) {
            Ok(p) => p,
            Err(e) => {
                problems.push(format!("`{name}`: example is not JSON: {e}"));
                continue;
            }
        };
        if !params.is_object() {
            problems.push(format!("`{name}`: example is not a JSON object"));
            continue;
        }
        match serde_json::from_value::<Box<dyn Op>>(serde_json::json!({"op": name, "params": params})) {
            Ok(op) => {
                if let Err(e) = op.validate() {
                    problems.push(format!("`{name}`: example fails validate(): {e}"));
                }
            }
            Err(e) => problems.push(format!("`{name}`: example does not deserialise: {e}")),
        }
    }
    for doc in voxflow_core::op_docs() {
        if !ops.iter().any(|n| n == doc.name) {
            problems.push(format!("op_doc! for `{}`, which is not a registered op", doc.name));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_op_is_described_with_its_summary() {
    voxflow_graph_runner::register_all();
    for info in voxflow_graph_runner::ops::describe_ops() {
        assert!(info.required.is_none(), "`{}`: {:?}", info.name, info.required);
        assert!(!info.summary.is_empty(), "`{}` has no summary", info.name);
    }
    let crop = voxflow_graph_runner::ops::describe_op("crop".to_owned());
    let size = crop.params.iter().find(|p| p.name == "size").expect("crop lists `size`");
    assert!(size.required && size.json_type == "array", "{size:?}");
    let pad = crop.params.iter().find(|p| p.name == "pad").expect("crop lists `pad`");
    assert!(!pad.required && pad.default == serde_json::json!(false), "{pad:?}");
}

/// Every op's Rust `Default` (what `Rotate { angle: 10.0, ..Default::default() }` starts from)
/// is a valid op in a graph, and each optional parameter's default is the graph's: the value
/// the schema states (serde's default) equals the one `Default` gives.
#[test]
fn every_ops_rust_default_is_the_graphs_default() {
    voxflow_graph_runner::register_all();
    let mut problems = Vec::new();
    for doc in voxflow_core::op_docs() {
        let name = doc.name;
        let defaults = (doc.default_params)();
        let Some(object) = defaults.as_object() else {
            problems.push(format!("`{name}`: Default does not serialise to an object: {defaults}"));
            continue;
        };
        if let Err(e) =
            serde_json::from_value::<Box<dyn Op>>(serde_json::json!({"op": name, "params": defaults}))
        {
            problems.push(format!("`{name}`: its Default does not read back as params: {e}"));
        }
        let properties = voxflow_graph_runner::ops::describe_op(name.to_owned()).params;
        for param in properties {
            if param.required || param.default.is_null() {
                continue;
            }
            // A key the Default leaves out (skipped when it is the default) reads back as
            // serde's default.
            let Some(rust) = object.get(&param.name).cloned() else { continue };
            if !same_json(&rust, &param.default) {
                problems.push(format!(
                    "`{name}.{}`: graph default {} but Rust Default {rust}",
                    param.name, param.default
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// JSON equality with numbers compared as f64 (`1` and `1.0` are one default).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x.as_f64() == y.as_f64(),
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same_json(x, y)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}
