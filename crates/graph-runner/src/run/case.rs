//! The executor: one case's nodes, in topological order, for any number of outputs.

use crate::dataset::Case;
use crate::error_render::error_chain;
use crate::graph::Graph;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{Deferred, Inputs, Kind, OpError, RunContext, Value, Volume};

/// The resample the runner uses for deferred values: the geometry crate's resampling core.
pub fn materialize(deferred: &Deferred) -> Result<Volume, OpError> {
    voxflow_geometry::spatial::materialize(deferred).map_err(OpError::other)
}

/// A failure inside one node.
#[derive(Debug)]
pub struct NodeFailure {
    pub node: Option<String>,
    pub message: String,
    /// Writing to the output folder failed (disk full, quota, read-only, an I/O error in a
    /// `save` or the manifest): the run stops starting new cases.
    pub write_error: bool,
}

/// Whether an error comes from the storage refusing a write: an I/O error anywhere in the
/// chain whose kind says the disk is full, over quota or read-only, or any I/O error when
/// `writing` (the error comes from a `save` node or the manifest).
fn is_write_error(e: &(dyn std::error::Error + 'static), writing: bool) -> bool {
    use std::io::ErrorKind as K;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cause {
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && (writing || matches!(io.kind(), K::StorageFull | K::QuotaExceeded | K::ReadOnlyFilesystem))
        {
            return true;
        }
        cause = err.source();
    }
    false
}

/// The result of one output.
#[derive(Debug)]
pub struct OutputRecord {
    /// Every draw made, by node name, as the manifest records it.
    pub draws: BTreeMap<String, serde_json::Value>,
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
    /// The same files by the `save` node that wrote them.
    pub saved: BTreeMap<String, String>,
    /// The values of the captured nodes ([`Capture::nodes`]), by node name, resampled.
    pub volumes: BTreeMap<String, Arc<Volume>>,
}

/// What a [`CaseRunner`] reads, runs, writes and hands back.
#[derive(Debug, Clone)]
pub struct Capture {
    /// Run only these nodes and those they depend on, and hand back their volumes in
    /// [`OutputRecord::volumes`]; `None` runs every node and hands nothing back.
    pub nodes: Option<BTreeSet<usize>>,
    /// `save` nodes write their files. When false they write nothing and pass their input on
    /// (so capturing a `save` node hands back what it would have written).
    pub write: bool,
    /// Volumes for `load` inputs, by input name, used instead of reading the case's files.
    pub given: BTreeMap<String, Arc<Volume>>,
}

impl Capture {
    /// What the dataset runner does: every node runs, files are written, nothing handed back.
    #[must_use]
    pub fn files() -> Self {
        Capture { nodes: None, write: true, given: BTreeMap::new() }
    }

    /// Runs what `nodes` need, writes nothing, and hands their volumes back.
    #[must_use]
    pub fn in_memory(nodes: BTreeSet<usize>, given: BTreeMap<String, Arc<Volume>>) -> Self {
        Capture { nodes: Some(nodes), write: false, given }
    }
}

/// Runs a graph's nodes for one case: loads once, then any number of outputs.
pub struct CaseRunner<'a> {
    graph: &'a Graph,
    case: &'a Case,
    seed: u64,
    output_dir: &'a Path,
    capture: Capture,
    /// Whether each node runs (all of them, or those the captured nodes need).
    needed: Vec<bool>,
    loaded: BTreeMap<usize, Value>,
    pub(super) timings: BTreeMap<String, Duration>,
}

impl std::fmt::Debug for CaseRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseRunner").field("case", &self.case.id).finish_non_exhaustive()
    }
}

/// Whether each node is `target` or feeds one, through any path.
fn needed_by(graph: &Graph, targets: &BTreeSet<usize>) -> Vec<bool> {
    let mut needed: Vec<bool> = (0..graph.nodes.len()).map(|i| targets.contains(&i)).collect();
    for &i in graph.order.iter().rev() {
        if needed[i] {
            for &from in graph.nodes[i].inputs.values() {
                needed[from] = true;
            }
        }
    }
    needed
}

impl<'a> CaseRunner<'a> {
    /// Runs the graph's `load` nodes for `case`, reading its files and writing with `save`
    /// nodes (the dataset runner's way): see [`CaseRunner::new`].
    pub fn load(
        graph: &'a Graph,
        case: &'a Case,
        seed: u64,
        output_dir: &'a Path,
    ) -> Result<Self, NodeFailure> {
        CaseRunner::new(graph, case, seed, output_dir, Capture::files())
    }

    /// Runs the `load` nodes the capture needs (reading files, or taking the given volumes).
    /// A case's volumes may lie on different grids; where they meet, the grids must agree:
    /// ops with a mask check theirs, and `DrawGrids` checks that one draw is applied on one
    /// grid (so image and label move alike); `resample_to` puts a volume on another's grid.
    pub fn new(
        graph: &'a Graph,
        case: &'a Case,
        seed: u64,
        output_dir: &'a Path,
        capture: Capture,
    ) -> Result<Self, NodeFailure> {
        let needed = match &capture.nodes {
            Some(nodes) => needed_by(graph, nodes),
            None => vec![true; graph.nodes.len()],
        };
        let mut runner = CaseRunner {
            graph,
            case,
            seed,
            output_dir,
            capture,
            needed,
            loaded: BTreeMap::new(),
            timings: BTreeMap::new(),
        };
        for (i, node) in graph.nodes.iter().enumerate() {
            let Some(load) = &node.load else { continue };
            if !runner.needed[i] {
                continue;
            }
            let value = match runner.capture.given.get(&load.input) {
                Some(volume) => given_as(volume, load.kind).map(Value::Volume).map_err(|message| {
                    NodeFailure { node: Some(node.name.clone()), message, write_error: false }
                })?,
                None => runner.run_node(i, 0, Inputs::default())?.0,
            };
            runner.loaded.insert(i, value);
        }
        Ok(runner)
    }

    fn run_node(
        &mut self,
        i: usize,
        output: u64,
        inputs: Inputs,
    ) -> Result<(Value, Vec<PathBuf>), NodeFailure> {
        let node = &self.graph.nodes[i];
        let mut ctx = RunContext {
            node: &node.name,
            case_id: &self.case.id,
            output_index: output,
            rng: rng_for(&DrawKey {
                graph_seed: self.seed,
                case_id: &self.case.id,
                output_index: output,
                node: &node.name,
            }),
            case_inputs: &self.case.inputs,
            output_dir: self.output_dir,
            written: Vec::new(),
            materialize: &materialize,
        };
        let start = Instant::now();
        let result = node.op.run(&mut ctx, inputs);
        *self.timings.entry(node.name.clone()).or_default() += start.elapsed();
        let value = result.map_err(|e| NodeFailure {
            node: Some(node.name.clone()),
            message: error_chain(&e),
            write_error: is_write_error(&e, node.save.is_some()),
        })?;
        Ok((value, ctx.written))
    }

    /// Runs the (needed) non-`load` nodes for one output. When a node fails, the files this
    /// output already wrote are removed: an output is all its files or none.
    pub fn run_output(&mut self, output: u64) -> Result<OutputRecord, NodeFailure> {
        let mut record = OutputRecord {
            draws: BTreeMap::new(),
            files: Vec::new(),
            saved: BTreeMap::new(),
            volumes: BTreeMap::new(),
        };
        match self.run_output_into(output, &mut record) {
            Ok(()) => Ok(record),
            Err(failure) => {
                for file in &record.files {
                    let _ = std::fs::remove_file(self.output_dir.join(file));
                }
                Err(failure)
            }
        }
    }

    fn run_output_into(&mut self, output: u64, record: &mut OutputRecord) -> Result<(), NodeFailure> {
        let graph = self.graph;
        let mut remaining: Vec<usize> = vec![0; graph.nodes.len()];
        for (i, node) in graph.nodes.iter().enumerate() {
            if self.needed[i] {
                for &from in node.inputs.values() {
                    remaining[from] += 1;
                }
            }
        }
        let mut values: Vec<Option<Value>> = vec![None; graph.nodes.len()];
        // A deferred value resampled for one consumer is kept for the others that need voxels
        // (e.g. a label map used as the mask of two intensity ops), so it is resampled once.
        // Consumers that fuse still get the deferred value.
        let mut resampled: Vec<Option<Arc<Volume>>> = vec![None; graph.nodes.len()];
        let mut draw_grids = DrawGrids::default();
        for &i in &graph.order {
            if !self.needed[i] {
                continue;
            }
            let node = &graph.nodes[i];
            let value = if let Some(v) = self.loaded.get(&i) {
                v.clone()
            } else {
                let mut inputs = Inputs::default();
                for (port, &from) in &node.inputs {
                    remaining[from] -= 1;
                    let value = if remaining[from] == 0 { values[from].take() } else { values[from].clone() };
                    let Some(mut value) = value else {
                        return Err(NodeFailure {
                            node: Some(node.name.clone()),
                            message: format!("input `{port}` from `{}` has no value", graph.nodes[from].name),
                            write_error: false,
                        });
                    };
                    if let Value::Deferred(d) = &value
                        && !node.op.accepts_deferred()
                    {
                        let volume = if let Some(volume) = &resampled[from] {
                            Arc::clone(volume)
                        } else {
                            let volume = Arc::new(
                                self.resample(d, &format!("{} (resampling its input)", node.name)).map_err(
                                    |e| NodeFailure {
                                        node: Some(node.name.clone()),
                                        message: format!("resampling input `{port}`: {}", error_chain(&e)),
                                        write_error: false,
                                    },
                                )?,
                            );
                            if remaining[from] > 0 {
                                resampled[from] = Some(Arc::clone(&volume));
                            }
                            volume
                        };
                        value = Value::Volume(volume);
                    }
                    if remaining[from] == 0 {
                        resampled[from] = None;
                    }
                    inputs.0.insert(port.clone(), value);
                }
                draw_grids.check(graph, i, &inputs, &self.describe_grid_source())?;
                if node.save.is_some() && !self.capture.write {
                    // In memory, a `save` hands on what it would have written.
                    inputs.volume("volume").map(Value::Volume).map_err(|e| NodeFailure {
                        node: Some(node.name.clone()),
                        message: error_chain(&e),
                        write_error: false,
                    })?
                } else {
                    let (value, written) = self.run_node(i, output, inputs)?;
                    for path in written {
                        let file = relative(self.output_dir, &path);
                        record.saved.insert(node.name.clone(), file.clone());
                        record.files.push(file);
                    }
                    value
                }
            };
            if let Value::Draw(op) = &value {
                let json = serde_json::to_value(&**op).map_err(|e| NodeFailure {
                    node: Some(node.name.clone()),
                    message: format!("cannot record the draw: {e}"),
                    write_error: false,
                })?;
                record.draws.insert(node.name.clone(), json);
            }
            if self.capture.nodes.as_ref().is_some_and(|nodes| nodes.contains(&i)) {
                let volume = match &value {
                    Value::Volume(v) => Some(Arc::clone(v)),
                    Value::Deferred(d) => {
                        Some(Arc::new(self.resample(d, &node.name).map_err(|e| NodeFailure {
                            node: Some(node.name.clone()),
                            message: format!("resampling: {}", error_chain(&e)),
                            write_error: false,
                        })?))
                    }
                    Value::Draw(_) => None,
                };
                if let Some(volume) = volume {
                    record.volumes.insert(node.name.clone(), volume);
                }
            }
            if remaining[i] > 0 {
                values[i] = Some(value);
            }
        }
        Ok(())
    }

    /// For messages: the case inputs a node's value comes from (`image: path`, ...).
    fn describe_grid_source(&self) -> impl Fn(usize) -> String + '_ {
        move |node: usize| {
            let mut loads = std::collections::BTreeSet::new();
            let mut stack = vec![node];
            while let Some(n) = stack.pop() {
                let spec = &self.graph.nodes[n];
                if let Some(load) = &spec.load {
                    let from = if self.capture.given.contains_key(&load.input) {
                        format!("the volume given as `{}`", load.input)
                    } else {
                        self.case
                            .inputs
                            .get(&load.input)
                            .map_or_else(|| load.input.clone(), |p| p.display().to_string())
                    };
                    loads.insert(from);
                }
                stack.extend(
                    spec.inputs.iter().filter(|(port, _)| port.as_str() != "draw").map(|(_, &from)| from),
                );
            }
            format!("from {}", loads.into_iter().collect::<Vec<_>>().join(", "))
        }
    }

    /// Resamples a deferred value, timed under `timing`.
    fn resample(&mut self, deferred: &Deferred, timing: &str) -> Result<Volume, OpError> {
        let start = Instant::now();
        let volume = materialize(deferred);
        *self.timings.entry(timing.to_owned()).or_default() += start.elapsed();
        volume
    }
}

/// The grid each draw was first applied on, by draw node: a draw applied to volumes on
/// different grids would move them differently (its parameters are in the voxels of the grid
/// it meets), so the second grid is an error naming both nodes.
#[derive(Default)]
struct DrawGrids {
    first: BTreeMap<usize, (usize, [usize; 3], voxflow_core::Affine)>,
}

impl DrawGrids {
    fn check(
        &mut self,
        graph: &Graph,
        node: usize,
        inputs: &Inputs,
        source_of: &dyn Fn(usize) -> String,
    ) -> Result<(), NodeFailure> {
        let Some(&draw) = graph.nodes[node].inputs.get("draw") else { return Ok(()) };
        let grid = match inputs.0.get("volume") {
            Some(Value::Volume(v)) => (v.shape3(), v.affine),
            Some(Value::Deferred(d)) => (d.spec.shape, d.spec.affine),
            _ => return Ok(()),
        };
        let Some(&(first, shape, affine)) = self.first.get(&draw) else {
            self.first.insert(draw, (node, grid.0, grid.1));
            return Ok(());
        };
        let same_affine = (affine - grid.1).abs().max() <= 1e-4 * (1.0 + affine.abs().max());
        if shape == grid.0 && same_affine {
            return Ok(());
        }
        let rows = |a: &voxflow_core::Affine| -> String {
            (0..3)
                .map(|r| format!("{:?}", (0..4).map(|c| a[(r, c)]).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
                .join(" ")
        };
        Err(NodeFailure {
            node: Some(graph.nodes[node].name.clone()),
            message: format!(
                "the draw `{}` is applied here to a volume on another grid than at node `{}`: \
                 shape {:?}, affine {} ({}) vs shape {shape:?}, affine {} ({}); put the volumes on \
                 one grid first (`resample_to`), so that one draw moves them alike",
                graph.nodes[draw].name,
                graph.nodes[first].name,
                grid.0,
                rows(&grid.1),
                source_of(node),
                rows(&affine),
                source_of(first),
            ),
            write_error: false,
        })
    }
}

/// A given volume as a `load` node of `kind` would have read it: an image load takes a label
/// map's values as f32 (as reading a label file as an image does); a label load needs a label
/// map (image values are not labels).
fn given_as(volume: &Arc<Volume>, kind: Kind) -> Result<Arc<Volume>, String> {
    match (kind, volume.kind()) {
        (Kind::Image, Kind::Label) => Ok(Arc::new(volume.to_image())),
        (Kind::Label, Kind::Image) => {
            Err("the node loads a label map, but the volume given is an image (give a label volume)"
                .to_owned())
        }
        _ => Ok(Arc::clone(volume)),
    }
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}
