//! The generated JSON Schema (`graphrun schema`, `graphs/graph.schema.json`) and graphrun agree:
//! checked with a standard validator (the `jsonschema` crate) on the example graphs, every op's
//! documented example, an unknown parameter for every op, and a corpus of broken graphs that
//! both must reject. (Checks a schema cannot express, such as wiring, cycles, kinds and
//! `validate()`'s value checks, are graphrun's alone and not in the corpus.)

use serde_json::{Value, json};
use voxflow_graph_runner::Graph;

fn validator() -> jsonschema::Validator {
    let schema: Value =
        serde_json::from_str(&voxflow_graph_runner::graph::schema_json()).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// The schema's errors for `graph` (empty when it is valid).
fn schema_errors(validator: &jsonschema::Validator, graph: &Value) -> Vec<String> {
    validator.iter_errors(graph).map(|e| format!("{} at `{}`", e, e.instance_path())).collect()
}

/// graphrun's verdict on `graph`.
fn graphrun_verdict(graph: &Value) -> Result<(), String> {
    voxflow_graph_runner::register_all();
    Graph::from_json(&graph.to_string())
        .map(|_| ())
        .map_err(|e| voxflow_graph_runner::error_render::error_chain(&e))
}

/// A valid graph that the corpus breaks one way at a time.
fn base() -> Value {
    json!({
        "$schema": "graph.schema.json",
        "seed": 3,
        "outputs": 2,
        "dataset": {"inputs": {"image": "image.nii.gz", "label": "label.nii.gz"}},
        "nodes": [
            {"name": "image", "op": "load"},
            {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
            {"name": "turned", "op": "rotate", "params": {"axes": [0, 1], "angle": 15, "interpolation": "cubic"},
             "inputs": {"volume": "image"}},
            {"name": "scaled", "op": "scale", "params": {"factor": [1.1, 1.0, 0.9], "mode": "nearest", "fill": "minimum"},
             "inputs": {"volume": "turned"}},
            {"name": "warp", "op": "random_elastic", "params": {"model": {"type": "control_grid", "num_control_points": 5}}},
            {"name": "image_warped", "op": "apply", "inputs": {"volume": "scaled", "draw": "warp"}},
            {"name": "label_warped", "op": "apply", "inputs": {"volume": "label", "draw": "warp"}},
            {"name": "norm", "op": "normalize", "params": {"mode": "zscore"}, "inputs": {"volume": "image_warped"}},
            {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii.gz", "dtype": "i16"},
             "inputs": {"volume": "norm"}},
            {"name": "save_label", "op": "save", "params": {"path": "{case}/label_{output}.nii.gz", "gzip_level": 6},
             "inputs": {"volume": "label_warped"}}
        ]
    })
}

/// The node named `name` in a graph.
fn node<'a>(graph: &'a mut Value, name: &str) -> &'a mut Value {
    graph["nodes"]
        .as_array_mut()
        .and_then(|nodes| nodes.iter_mut().find(|n| n["name"] == name))
        .unwrap_or_else(|| panic!("no node `{name}`"))
}

type Edit = fn(&mut Value);

/// (what is wrong, the edit that breaks the base graph)
const BROKEN: &[(&str, Edit)] = &[
    ("misspelled op", |g| node(g, "turned")["op"] = json!("rotat")),
    ("op of the wrong type", |g| node(g, "turned")["op"] = json!(7)),
    ("wrong enum value", |g| node(g, "turned")["params"]["interpolation"] = json!("bicubic")),
    ("wrong boundary mode", |g| node(g, "scaled")["params"]["mode"] = json!("clamp")),
    ("fill neither a number nor `minimum`", |g| node(g, "scaled")["params"]["fill"] = json!("min")),
    ("wrong type: string for a number", |g| node(g, "turned")["params"]["angle"] = json!("15")),
    ("wrong type: float for an integer", |g| node(g, "save_label")["params"]["gzip_level"] = json!(1.5)),
    ("negative unsigned integer", |g| node(g, "save_label")["params"]["gzip_level"] = json!(-1)),
    ("unknown parameter (plain struct)", |g| node(g, "save_image")["params"]["pth"] = json!("x.nii.gz")),
    ("unknown parameter (flattened resampling)", |g| node(g, "turned")["params"]["angel"] = json!(15)),
    ("array too long", |g| node(g, "turned")["params"]["axes"] = json!([0, 1, 2])),
    ("array too short", |g| node(g, "scaled")["params"]["factor"] = json!([1.1, 1.0])),
    ("missing required parameter", |g| {
        node(g, "turned")["params"] = json!({"axes": [0, 1]});
    }),
    ("params null where one is required", |g| node(g, "turned")["params"] = json!(null)),
    ("params left out where one is required", |g| {
        if let Some(n) = node(g, "turned").as_object_mut() {
            n.remove("params");
        }
    }),
    ("required parameter of save left out", |g| node(g, "save_image")["params"] = json!({"dtype": "i16"})),
    ("params not an object", |g| node(g, "norm")["params"] = json!([1, 2])),
    ("wrong dtype name", |g| node(g, "save_image")["params"]["dtype"] = json!("int24")),
    ("wrong kind", |g| node(g, "label")["params"]["kind"] = json!("labels")),
    ("wrong tag of a nested model", |g| node(g, "warp")["params"]["model"]["type"] = json!("bspline")),
    ("unknown key in a nested model", |g| node(g, "warp")["params"]["model"]["locked"] = json!(2)),
    ("extra top-level key", |g| g["seeds"] = json!(3)),
    ("`$schema` not a string", |g| g["$schema"] = json!(1)),
    ("seed of the wrong type", |g| g["seed"] = json!("3")),
    ("outputs not an integer", |g| g["outputs"] = json!(1.5)),
    ("nodes not an array", |g| g["nodes"] = json!({"image": {"op": "load"}})),
    ("nodes left out", |g| {
        if let Some(g) = g.as_object_mut() {
            g.remove("nodes");
        }
    }),
    ("unknown key in a node", |g| node(g, "norm")["param"] = json!({})),
    ("node without a name", |g| {
        if let Some(n) = node(g, "norm").as_object_mut() {
            n.remove("name");
        }
    }),
    ("node without an op", |g| {
        if let Some(n) = node(g, "norm").as_object_mut() {
            n.remove("op");
        }
    }),
    ("input naming a number", |g| node(g, "norm")["inputs"]["volume"] = json!(3)),
    ("unknown key in the dataset", |g| g["dataset"]["images"] = json!("*.nii.gz")),
];

#[test]
fn broken_graphs_fail_both_the_schema_and_graphrun() {
    let validator = validator();
    let base = base();
    assert_eq!(schema_errors(&validator, &base), Vec::<String>::new(), "the base graph follows the schema");
    assert_eq!(graphrun_verdict(&base), Ok(()), "graphrun accepts the base graph");
    let mut problems = Vec::new();
    for (what, edit) in BROKEN {
        let mut graph = base.clone();
        edit(&mut graph);
        assert_ne!(graph, base, "{what}: the edit changed nothing");
        if schema_errors(&validator, &graph).is_empty() {
            problems.push(format!("{what}: the schema accepts it"));
        }
        if graphrun_verdict(&graph).is_ok() {
            problems.push(format!("{what}: graphrun accepts it"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(BROKEN.len() >= 20);
}

#[test]
fn null_params_mean_all_defaults_to_both() {
    let validator = validator();
    let mut graph = base();
    node(&mut graph, "norm")["params"] = json!(null);
    node(&mut graph, "image")["params"] = json!(null);
    assert_eq!(schema_errors(&validator, &graph), Vec::<String>::new());
    assert_eq!(graphrun_verdict(&graph), Ok(()));
    // graphrun reads `"params": null` as `{}`: per op, the schema takes null exactly when the
    // op's parameters parse from `{}`.
    for doc in voxflow_core::op_docs() {
        let (graph, _) = single(doc.name, &json!(null));
        let (_, built) = single(doc.name, &json!({}));
        let schema_ok = schema_errors(&validator, &graph).is_empty();
        assert_eq!(
            schema_ok,
            built.is_ok(),
            "`{}`: schema takes null: {schema_ok}, `{{}}` parses: {built:?}",
            doc.name
        );
    }
}

#[test]
fn example_graphs_pass_both_the_schema_and_graphrun() {
    let validator = validator();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("graphs/") {
        let path = entry.expect("entry").path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if path.extension().is_none_or(|e| e != "json") || name.contains(".schema.") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        let graph: Value = serde_json::from_str(&text).expect("JSON");
        assert_eq!(graph["$schema"], "graph.schema.json", "{name} names its schema (for editors)");
        assert_eq!(schema_errors(&validator, &graph), Vec::<String>::new(), "{name}");
        assert_eq!(graphrun_verdict(&graph), Ok(()), "{name}");
        n += 1;
    }
    assert!(n >= 3);
}

/// One node `op` with `params`, alone in a graph: a schema sees no wiring, and graphrun's
/// parameter checks are the op's deserialization (what `Graph::from_json` runs per node).
fn single(op: &str, params: &Value) -> (Value, Result<(), String>) {
    voxflow_graph_runner::register_all();
    let graph = json!({"nodes": [{"name": "n", "op": op, "params": params}]});
    let built = serde_json::from_value::<Box<dyn voxflow_core::Op>>(json!({"op": op, "params": params}))
        .map(|_| ())
        .map_err(|e| e.to_string());
    (graph, built)
}

#[test]
fn every_op_example_passes_and_an_unknown_parameter_fails_both() {
    let validator = validator();
    let mut problems = Vec::new();
    let mut n = 0;
    for doc in voxflow_core::op_docs() {
        let example: Value = serde_json::from_str(doc.example).expect("examples are JSON");
        let (graph, built) = single(doc.name, &example);
        let errors = schema_errors(&validator, &graph);
        if !errors.is_empty() {
            problems.push(format!("`{}`: the schema rejects the example: {errors:?}", doc.name));
        }
        if let Err(e) = built {
            problems.push(format!("`{}`: graphrun rejects the example: {e}", doc.name));
        }
        let mut unknown = example.clone();
        if let Some(object) = unknown.as_object_mut() {
            object.insert("no_such_parameter".to_owned(), json!(1));
        }
        let (graph, built) = single(doc.name, &unknown);
        if schema_errors(&validator, &graph).is_empty() {
            problems.push(format!("`{}`: the schema accepts an unknown parameter", doc.name));
        }
        if built.is_ok() {
            problems.push(format!("`{}`: graphrun accepts an unknown parameter", doc.name));
        }
        n += 1;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(n >= 30, "{n} ops");
}

#[test]
fn the_schema_lists_ops_with_their_parameters() {
    let schema: Value = serde_json::from_str(&voxflow_graph_runner::graph::schema_json()).expect("JSON");
    let node = &schema["$defs"]["NodeSpec"];
    let names = node["properties"]["op"]["enum"].as_array().expect("op is an enum of names");
    assert_eq!(names.len(), voxflow_graph_runner::ops::known_ops().len());
    let rotate = node["allOf"]
        .as_array()
        .and_then(|branches| branches.iter().find(|b| b["if"]["properties"]["op"]["const"] == "rotate"))
        .map(|b| &b["then"]["properties"]["params"])
        .expect("a branch for rotate");
    assert_eq!(rotate["properties"]["axes"]["minItems"], 2);
    assert_eq!(rotate["properties"]["axes"]["maxItems"], 2);
    assert_eq!(rotate["properties"]["axes"]["default"], json!([0, 1]));
    assert_eq!(rotate["required"], json!(["angle"]));
    assert_eq!(rotate["additionalProperties"], false);
    assert!(rotate["properties"]["angle"]["description"].as_str().is_some_and(|d| d.contains("degrees")));
    assert!(rotate["properties"]["interpolation"].to_string().contains("Interpolation"));
}
