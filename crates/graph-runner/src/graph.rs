//! The graph file: our own data type, parsed, then validated, then built.
//!
//! A graph file is JSON:
//!
//! ```json
//! { "seed": 42, "outputs": 4,
//!   "nodes": [
//!     {"name": "image", "op": "load", "params": {"input": "image"}},
//!     {"name": "flip", "op": "random_flip", "params": {"axes": [0, 1, 2]}},
//!     {"name": "image_flipped", "op": "apply", "inputs": {"volume": "image", "draw": "flip"}},
//!     {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii.gz"},
//!      "inputs": {"volume": "image_flipped"}}
//!   ]}
//! ```
//!
//! Each node is parsed on its own, so every error names the node it is about. Validation
//! (ops, parameters, wiring, kinds, cycles) happens before any data is read.

use crate::error_render::{JsonProblem, nearest};
use crate::io::{Load, Save};
use petgraph::graph::{DiGraph, NodeIndex};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use thiserror::Error;
use voxflow_core::{Facts, Kind, Op, OpError};

/// A graph file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GraphFile {
    /// The JSON Schema the file follows, e.g. `graph.schema.json` (how editors such as VS Code
    /// attach it). Ignored by graphrun, and not part of the graph's hash.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// Seed of every random draw. A draw's generator is seeded by (this seed, case id, output
    /// index, node name), never by execution order or thread count.
    #[serde(default)]
    pub seed: u64,
    /// How many outputs (augmented copies) to produce per case. Default 1.
    #[serde(default = "one")]
    pub outputs: u64,
    /// A default dataset, used when the command line names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<DatasetSpec>,
    /// The nodes, in any order (they run in a topological order of their inputs).
    pub nodes: Vec<NodeSpec>,
}

fn one() -> u64 {
    1
}

/// A default dataset of one case, carried by the graph file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatasetSpec {
    /// The case id. Default: the file stem of the `image` input (or of the first input).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case: Option<String>,
    /// Input name (as `load` nodes name it) to a NIfTI path, relative to the graph file.
    pub inputs: BTreeMap<String, String>,
}

/// One node of a graph file.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// A unique name. Other nodes name it in their `inputs`; random draws are seeded by it.
    pub name: String,
    /// The op (`graphrun ops` lists them), e.g. `load`, `random_flip`, `apply`, `save`.
    pub op: String,
    /// The op's parameters; missing means all defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<serde_json::Value>,
    /// Port name to the name of the node feeding it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, String>,
}

/// The top level of a graph file with its nodes still unparsed, so that a bad node is
/// reported by name rather than by serde's position in the whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraph {
    #[serde(rename = "$schema", default)]
    schema: Option<String>,
    #[serde(default)]
    seed: u64,
    #[serde(default = "one")]
    outputs: u64,
    #[serde(default)]
    dataset: Option<DatasetSpec>,
    nodes: Vec<serde_json::Value>,
}

/// Why a graph cannot be run. Every variant about a node names it; the message says only
/// this layer, and the cause (I/O error, serde's or the op's message) is the `source()`
/// (render the chain with [`crate::error_render::error_chain`]).
#[derive(Debug, Error)]
pub enum GraphError {
    #[error("cannot read graph file {path}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot parse graph file {path}")]
    Json { path: PathBuf, source: JsonProblem },
    #[error("{}", match name {
        Some(name) => format!("node `{name}`"),
        None => format!("the node at `nodes[{index}]`"),
    })]
    NodeSyntax { index: usize, name: Option<String>, source: JsonProblem },
    #[error("node `{node}`: unknown op `{op}`; {}", match suggestion {
        Some(s) => format!("did you mean `{s}`? (`graphrun ops` lists every op)"),
        None => format!("known ops: {}", known.join(", ")),
    })]
    UnknownOp { node: String, op: String, known: Vec<String>, suggestion: Option<String> },
    #[error("node `{node}` (op `{op}`): unknown parameter `{param}`; {}", match suggestion {
        Some(s) => format!("did you mean `{s}`?"),
        None if known.is_empty() => "`graphrun ops` lists its parameters".to_owned(),
        None => format!("its parameters: {}", known.join(", ")),
    })]
    UnknownParam { node: String, op: String, param: String, known: Vec<String>, suggestion: Option<String> },
    #[error("node `{node}` (op `{op}`)")]
    Params { node: String, op: String, source: JsonProblem },
    #[error("node `{node}` (op `{op}`)")]
    Invalid { node: String, op: String, source: OpError },
    #[error("node name `{node}` is used more than once")]
    Duplicate { node: String },
    #[error("node name `{node}` cannot be used: {reason}")]
    NodeName { node: String, reason: &'static str },
    #[error("node `{node}`: required input `{port}` is not connected")]
    MissingInput { node: String, port: String },
    #[error("node `{node}`: input `{port}` names `{target}`, which is not a node of this graph{}",
        suggestion.as_ref().map(|s| format!("; did you mean `{s}`?")).unwrap_or_default())]
    Dangling { node: String, port: String, target: String, suggestion: Option<String> },
    #[error("node `{node}`: op `{op}` has no input port `{port}`; its ports: {}", known.join(", "))]
    UnknownPort { node: String, op: String, port: String, known: Vec<String> },
    #[error("the graph has a cycle: {}", nodes.join(" -> "))]
    Cycle { nodes: Vec<String> },
    #[error(
        "node `{node}`: input `{port}` gets {got} from `{from}`, but accepts only {}",
        list_kinds(accepts)
    )]
    Kind { node: String, port: String, from: String, got: Kind, accepts: Vec<Kind> },
    #[error(
        "node `{node}`: the draw of `{draw}` applies only to {}, but input `{port}` gets {got} from `{from}`",
        list_kinds(applies_to)
    )]
    DrawKind { node: String, draw: String, port: String, from: String, got: Kind, applies_to: Vec<Kind> },
    #[error(transparent)]
    List(#[from] crate::expand::ListError),
    #[error(
        "node `{node}`: input `{}` gets shape {} from `{}`, input `{}` shape {} from `{}`; the volumes an op combines must share one grid",
        input.port,
        shape_text(input.shape),
        input.from,
        other.port,
        shape_text(other.shape),
        other.from
    )]
    Grid { node: String, input: Box<GridInput>, other: Box<GridInput> },
    #[error("the graph has no nodes")]
    Empty,
    #[error("`outputs` must be at least 1")]
    NoOutputs,
}

/// An input of a node whose grid disagrees with another's ([`GraphError::Grid`]).
#[derive(Debug)]
pub struct GridInput {
    /// The node's port.
    pub port: String,
    /// The node it comes from.
    pub from: String,
    /// The shape validation knows it has.
    pub shape: [usize; 3],
}

fn shape_text([x, y, z]: [usize; 3]) -> String {
    format!("{x}x{y}x{z}")
}

fn list_kinds(kinds: &[Kind]) -> String {
    kinds.iter().map(ToString::to_string).collect::<Vec<_>>().join(" or ")
}

/// A node, built.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    /// The op's name as written in the file.
    pub op_name: String,
    pub op: Arc<dyn Op>,
    /// Port name to the index (in [`Graph::nodes`]) of the node feeding it.
    pub inputs: BTreeMap<String, usize>,
    /// The kind of value the node outputs (`facts.kind`).
    pub kind: Kind,
    /// What the node outputs, known at validation: kind, dtype, channels.
    pub facts: Facts,
    /// `Some` for `load` nodes (which the runner caches across the outputs of a case).
    pub load: Option<Load>,
    /// `Some` for `save` nodes (whose files the runner plans before running).
    pub save: Option<Save>,
}

/// A validated graph, ready to run.
#[derive(Debug)]
pub struct Graph {
    /// The file as parsed.
    pub file: GraphFile,
    /// Where the file is (for its default dataset and the manifest), if it came from a file.
    pub path: Option<PathBuf>,
    /// The nodes, in file order.
    pub nodes: Vec<Node>,
    /// A topological order (indices into `nodes`).
    pub order: Vec<usize>,
    /// A stable hash (FNV-1a 64, hex) of the canonical JSON of the graph file.
    pub hash: String,
}

impl Graph {
    /// Reads, parses and validates a graph file.
    pub fn from_path(path: &Path) -> Result<Graph, GraphError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| GraphError::Read { path: path.into(), source })?;
        let mut graph = Graph::from_json(&text).map_err(|e| match e {
            GraphError::Json { source, .. } => GraphError::Json { path: path.into(), source },
            other => other,
        })?;
        graph.path = Some(std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
        Ok(graph)
    }

    /// Parses and validates a graph from JSON text.
    pub fn from_json(text: &str) -> Result<Graph, GraphError> {
        let raw: RawGraph =
            serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)).map_err(|e| {
                GraphError::Json { path: PathBuf::from("<graph>"), source: JsonProblem::new("key", e, 0) }
            })?;
        let expanded = crate::expand::expand(raw.nodes)?;
        let mut nodes = Vec::with_capacity(expanded.len());
        for (index, value) in expanded.into_iter().enumerate() {
            let name = value.get("name").and_then(|n| n.as_str()).map(ToOwned::to_owned);
            let spec: NodeSpec = serde_path_to_error::deserialize(value).map_err(|e| {
                GraphError::NodeSyntax { index, name, source: JsonProblem::new("field", e, 0) }
            })?;
            nodes.push(spec);
        }
        let file = GraphFile {
            schema: raw.schema,
            seed: raw.seed,
            outputs: raw.outputs,
            dataset: raw.dataset,
            nodes,
        };
        Graph::build(file)
    }

    /// Validates and builds a parsed graph file.
    pub fn build(file: GraphFile) -> Result<Graph, GraphError> {
        if file.nodes.is_empty() {
            return Err(GraphError::Empty);
        }
        if file.outputs == 0 {
            return Err(GraphError::NoOutputs);
        }
        // Names first: every later error refers to nodes by name.
        let mut index_of = BTreeMap::new();
        for (i, spec) in file.nodes.iter().enumerate() {
            if let Some(reason) = crate::paths::node_name_problem(&spec.name) {
                return Err(GraphError::NodeName { node: spec.name.escape_debug().to_string(), reason });
            }
            if index_of.insert(spec.name.as_str(), i).is_some() {
                return Err(GraphError::Duplicate { node: spec.name.clone() });
            }
        }
        let known = crate::ops::known_ops();
        let mut nodes = Vec::with_capacity(file.nodes.len());
        for spec in &file.nodes {
            nodes.push(build_node(spec, &index_of, &known)?);
        }
        let order = topological_order(&nodes)?;
        infer_kinds(&mut nodes, &order)?;
        let hash = hash_graph(&file, &nodes);
        Ok(Graph { file, path: None, nodes, order, hash })
    }

    /// The index of a node by name.
    #[must_use]
    pub fn node_index(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    /// The `save` nodes with their parameters.
    pub fn saves(&self) -> impl Iterator<Item = (&Node, &Save)> {
        self.nodes.iter().filter_map(|n| n.save.as_ref().map(|s| (n, s)))
    }

    /// The files one (case, output) writes, relative to the output directory, in node order.
    #[must_use]
    pub fn planned_files(&self, case_id: &str, output_index: u64) -> Vec<String> {
        self.saves().map(|(node, save)| save.render(case_id, output_index, &node.name)).collect()
    }
}

/// Builds one node's op from `{"op": .., "params": ..}` and resolves its inputs.
fn build_node(
    spec: &NodeSpec,
    index_of: &BTreeMap<&str, usize>,
    known: &[String],
) -> Result<Node, GraphError> {
    if !known.contains(&spec.op) {
        return Err(GraphError::UnknownOp {
            node: spec.name.clone(),
            op: spec.op.clone(),
            known: known.to_vec(),
            suggestion: nearest(&spec.op, known.iter().map(String::as_str)).map(ToOwned::to_owned),
        });
    }
    let params = match &spec.params {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(serde_json::Map::new()),
        Some(p) => p.clone(),
    };
    let tagged = serde_json::json!({ "op": spec.op, "params": params });
    // Parsed with the path to the value at fault, so the error can name the parameter.
    let op: Box<dyn Op> =
        serde_path_to_error::deserialize(tagged).map_err(|e| params_error(spec, &params, e))?;
    op.validate().map_err(|source| GraphError::Invalid {
        node: spec.name.clone(),
        op: spec.op.clone(),
        source,
    })?;
    // The runner needs to know the `load` and `save` nodes' parameters (caching, planning).
    let load = if spec.op == "load" { Some(parse_params::<Load>(spec, &params)?) } else { None };
    let save = if spec.op == "save" { Some(parse_params::<Save>(spec, &params)?) } else { None };

    let ports = op.ports();
    let mut inputs = BTreeMap::new();
    for (port, target) in &spec.inputs {
        if !ports.iter().any(|p| p.name == port) {
            return Err(GraphError::UnknownPort {
                node: spec.name.clone(),
                op: spec.op.clone(),
                port: port.clone(),
                known: ports.iter().map(|p| p.name.to_owned()).collect(),
            });
        }
        let Some(&from) = index_of.get(target.as_str()) else {
            return Err(GraphError::Dangling {
                node: spec.name.clone(),
                port: port.clone(),
                target: target.clone(),
                suggestion: nearest(target, index_of.keys().copied()).map(ToOwned::to_owned),
            });
        };
        inputs.insert(port.clone(), from);
    }
    if let Some(port) = ports.iter().find(|p| p.required && !spec.inputs.contains_key(p.name)) {
        return Err(GraphError::MissingInput { node: spec.name.clone(), port: port.name.to_owned() });
    }
    Ok(Node {
        name: spec.name.clone(),
        op_name: spec.op.clone(),
        op: Arc::from(op),
        inputs,
        kind: Kind::Image,
        facts: Facts::image(None),
        load,
        save,
    })
}

/// Builds an op from its name and parameters.
fn deserialize_op(op: &str, params: serde_json::Value) -> Result<Box<dyn Op>, serde_json::Error> {
    serde_json::from_value(serde_json::json!({ "op": op, "params": params }))
}

/// Names the parameter serde's error is about, and turns an unknown top-level parameter into
/// [`GraphError::UnknownParam`] with the nearest known name.
fn params_error(
    spec: &NodeSpec,
    params: &serde_json::Value,
    e: serde_path_to_error::Error<serde_json::Error>,
) -> GraphError {
    let unknown_field = e.inner().to_string().starts_with("unknown field ");
    // The path starts with `params` (typetag's adjacent tagging), which is left out.
    let mut problem = JsonProblem::new("parameter", e, 1);
    let object = params.as_object();
    let mut unknown = None;
    if problem.at.is_none() {
        if unknown_field {
            let message = problem.error.to_string();
            // serde's message names the field; it lists the valid ones unless the struct
            // flattens another (the resampling settings), where the op's schema does.
            unknown = message.split('`').nth(1).map(|name| {
                let mut known: Vec<String> = crate::error_render::serde_expected(&message)
                    .into_iter()
                    .map(ToOwned::to_owned)
                    .collect();
                if known.is_empty() {
                    known =
                        crate::ops::describe_op(spec.op.clone()).params.into_iter().map(|p| p.name).collect();
                }
                (name.to_owned(), known)
            });
        } else if let Some(object) = object {
            // Parameters of a flattened struct (the resampling settings) are deserialized from a
            // buffer, so the path stops at `params`, and unknown keys are reported by a catch-all
            // field. The parameter at fault is the one whose omission makes the op build.
            let culprits: Vec<&String> = object
                .keys()
                .filter(|key| {
                    let mut without = object.clone();
                    without.remove(*key);
                    deserialize_op(&spec.op, serde_json::Value::Object(without)).is_ok()
                })
                .collect();
            if let [key] = culprits[..] {
                let known: Vec<String> =
                    crate::ops::describe_op(spec.op.clone()).params.into_iter().map(|p| p.name).collect();
                if known.contains(key) {
                    problem.at = Some(key.clone());
                } else {
                    unknown = Some((key.clone(), known));
                }
            }
        }
    }
    match unknown {
        Some((param, known)) => GraphError::UnknownParam {
            node: spec.name.clone(),
            op: spec.op.clone(),
            suggestion: nearest(&param, known.iter().map(String::as_str)).map(ToOwned::to_owned),
            param,
            known,
        },
        None => GraphError::Params { node: spec.name.clone(), op: spec.op.clone(), source: problem },
    }
}

fn parse_params<T: serde::de::DeserializeOwned>(
    spec: &NodeSpec,
    params: &serde_json::Value,
) -> Result<T, GraphError> {
    serde_path_to_error::deserialize(params.clone()).map_err(|e| GraphError::Params {
        node: spec.name.clone(),
        op: spec.op.clone(),
        source: JsonProblem::new("parameter", e, 0),
    })
}

/// A topological order with petgraph; a cycle is reported whole (Tarjan's SCC).
fn topological_order(nodes: &[Node]) -> Result<Vec<usize>, GraphError> {
    let mut g = DiGraph::<usize, ()>::with_capacity(nodes.len(), nodes.len());
    let ids: Vec<NodeIndex> = (0..nodes.len()).map(|i| g.add_node(i)).collect();
    for (i, node) in nodes.iter().enumerate() {
        for &from in node.inputs.values() {
            g.add_edge(ids[from], ids[i], ());
        }
    }
    if let Ok(order) = petgraph::algo::toposort(&g, None) {
        return Ok(order.into_iter().map(|ix| g[ix]).collect());
    }
    let scc = petgraph::algo::tarjan_scc(&g)
        .into_iter()
        .find(|scc| scc.len() > 1 || scc.iter().any(|&ix| g.contains_edge(ix, ix)))
        .unwrap_or_default();
    // Walk the cycle from its first node in file order, following edges inside the component.
    let members: BTreeSet<usize> = scc.iter().map(|&ix| g[ix]).collect();
    let mut names = Vec::new();
    if let Some(&start) = members.first() {
        let mut seen = BTreeSet::new();
        let mut current = start;
        loop {
            names.push(nodes[current].name.clone());
            seen.insert(current);
            let next = g
                .neighbors(ids[current])
                .map(|ix| g[ix])
                .filter(|n| members.contains(n) && (!seen.contains(n) || *n == start))
                .min_by_key(|&n| (n == start, n));
            match next {
                Some(n) if n != start => current = n,
                _ => break,
            }
        }
        names.push(nodes[start].name.clone());
    }
    Err(GraphError::Cycle { nodes: names })
}

/// Checks every input's kind against its port, draws against what they apply to and the grids
/// of the volumes a node combines against each other, and propagates each node's [`Facts`]
/// (kind, dtype, channels, shape) in topological order.
fn infer_kinds(nodes: &mut [Node], order: &[usize]) -> Result<(), GraphError> {
    for &i in order {
        let node = &nodes[i];
        let mut facts = BTreeMap::new();
        for port in node.op.ports() {
            let Some(&from) = node.inputs.get(port.name) else { continue };
            let got = nodes[from].kind;
            if !port.accepts.contains(&got) {
                return Err(GraphError::Kind {
                    node: node.name.clone(),
                    port: port.name.to_owned(),
                    from: nodes[from].name.clone(),
                    got,
                    accepts: port.accepts.to_vec(),
                });
            }
            facts.insert(port.name.to_owned(), nodes[from].facts);
        }
        // A draw applies to the node's volume inputs: each must be of a kind the draw's source
        // op says its drawn op handles (an intensity draw never reaches a label map).
        let draw_sources: BTreeSet<usize> =
            node.inputs.values().copied().filter(|&from| nodes[from].kind == Kind::Draw).collect();
        for &draw in &draw_sources {
            let applies_to = nodes[draw].op.draw_applies_to();
            for (port, &from) in &node.inputs {
                let got = nodes[from].kind;
                if got != Kind::Draw && !applies_to.contains(&got) {
                    return Err(GraphError::DrawKind {
                        node: node.name.clone(),
                        draw: nodes[draw].name.clone(),
                        port: port.clone(),
                        from: nodes[from].name.clone(),
                        got,
                        applies_to: applies_to.to_vec(),
                    });
                }
            }
        }
        check_grids(node, nodes, &facts)?;
        let out = node.op.output_facts(&facts).map_err(|source| GraphError::Invalid {
            node: node.name.clone(),
            op: node.op_name.clone(),
            source,
        })?;
        nodes[i].kind = out.kind;
        nodes[i].facts = out;
    }
    Ok(())
}

/// The volumes a node combines (an image and its `mask`) must share one grid: where validation
/// knows two of their shapes, they are equal. (A draw's shape is what it makes of a volume, not
/// a grid of its own; a `like` input lends its grid to the op, as `resample_to`'s target, and is
/// not combined.)
fn check_grids(node: &Node, nodes: &[Node], facts: &BTreeMap<String, Facts>) -> Result<(), GraphError> {
    let mut known: Vec<(&String, [usize; 3])> = facts
        .iter()
        .filter(|(port, f)| f.kind != Kind::Draw && port.as_str() != "like")
        .filter_map(|(port, f)| Some((port, f.shape?)))
        .collect();
    // Measured against the `volume` input, the one the op works on.
    known.sort_by_key(|&(port, _)| port != "volume");
    let Some(&(first_port, first_shape)) = known.first() else { return Ok(()) };
    match known.into_iter().find(|&(_, shape)| shape != first_shape) {
        None => Ok(()),
        Some((port, shape)) => {
            let input = |port: &str, shape| {
                let from = node.inputs.get(port).map(|&i| nodes[i].name.clone()).unwrap_or_default();
                Box::new(GridInput { port: port.to_owned(), from, shape })
            };
            Err(GraphError::Grid {
                node: node.name.clone(),
                input: input(port, shape),
                other: input(first_port, first_shape),
            })
        }
    }
}

/// FNV-1a 64, in hex, of the canonical JSON (keys sorted, no whitespace) of the graph as it
/// runs: the seed, outputs and dataset, and every node's name, inputs and op **with every
/// parameter resolved, defaults included**. Two files that run the same are one hash however
/// they are written, and a changed default (voxflow 0.2 fills images with their minimum) is
/// a changed hash, so `--resume` never mixes outputs made under two meanings of one file.
#[must_use]
pub fn hash_graph(file: &GraphFile, nodes: &[Node]) -> String {
    let resolved: Vec<serde_json::Value> = file
        .nodes
        .iter()
        .zip(nodes)
        .map(|(spec, node)| {
            serde_json::json!({
                "name": spec.name,
                "op": serde_json::to_value(&*node.op).unwrap_or(serde_json::Value::Null),
                "inputs": spec.inputs,
            })
        })
        .collect();
    let value = serde_json::json!({
        "seed": file.seed,
        "outputs": file.outputs,
        "dataset": file.dataset,
        "nodes": resolved,
    });
    let mut text = String::new();
    canonical_json(&value, &mut text);
    format!("fnv1a64:{:016x}", voxflow_core::hash::fnv1a(text.as_bytes()))
}

/// Writes `value` as JSON with object keys sorted, whatever serde_json's map order is.
pub fn canonical_json(value: &serde_json::Value, out: &mut String) {
    match value {
        serde_json::Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::Value::String(key.clone()).to_string());
                out.push(':');
                canonical_json(&map[key], out);
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical_json(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The JSON Schema of the graph file format (see [`crate::schema`]).
#[must_use]
pub fn schema_json() -> String {
    crate::schema::schema_json()
}
