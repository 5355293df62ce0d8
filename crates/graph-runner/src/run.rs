//! Running a graph over cases.
//!
//! * Cases run in parallel, at most `max_cases_in_memory` at once: that many plain worker
//!   threads pull cases from a queue, and every kernel runs inside one rayon pool of `threads`
//!   threads. (Case workers are not rayon tasks, so work stealing never starts an extra case.)
//! * Within a case, `load` nodes run once and are shared by its N outputs; the outputs run one
//!   after another, nodes in topological order. A value is dropped as soon as its last
//!   consumer ran. Deferred (not yet resampled) values are resampled before any op that does
//!   not accept them.
//! * Draws are seeded by (graph seed, case, output index, node), so outputs are the same bytes
//!   whatever the thread count or case order.
//! * A failing case is reported with its node; the other cases finish.

use crate::dataset::Case;
use crate::error_render::error_chain;
use crate::graph::Graph;
use crate::manifest::{self, ManifestLine};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{Deferred, Inputs, OpError, RunContext, Value, Volume};

/// How to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub output_dir: PathBuf,
    /// Threads of the rayon pool the kernels run in.
    pub threads: usize,
    /// At most this many cases are in flight (loaded) at once.
    pub max_cases_in_memory: usize,
    /// Overrides the graph's seed.
    pub seed: Option<u64>,
    /// Overrides the graph's number of outputs per case.
    pub outputs: Option<u64>,
    /// Skip outputs the manifest lists as complete (and whose files exist).
    pub resume: bool,
    /// Replace existing files.
    pub overwrite: bool,
    /// Show a progress bar.
    pub progress: bool,
}

impl RunOptions {
    #[must_use]
    pub fn new(output_dir: impl Into<PathBuf>) -> Self {
        RunOptions {
            output_dir: output_dir.into(),
            threads: 1,
            max_cases_in_memory: 1,
            seed: None,
            outputs: None,
            resume: false,
            overwrite: false,
            progress: false,
        }
    }
}

/// Why a run could not start (a failing case is not a `RunError`: see [`RunSummary`]).
#[derive(Debug, Error)]
pub enum RunError {
    #[error("{path} already exists: pass --resume to continue a run or --overwrite to replace it")]
    OutputExists { path: PathBuf },
    #[error("cannot write to {path}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Manifest(#[from] manifest::ManifestError),
    #[error("cannot resume: {0}")]
    Resume(String),
    #[error("thread pool: {0}")]
    Pool(String),
    #[error("replay: {0}")]
    Replay(String),
    /// The run's plan is unsafe or impossible (paths outside the output folder, two outputs
    /// writing one file, too many outputs); nothing was written.
    #[error("{0}")]
    Plan(String),
}

/// A case or output that failed, with the node it failed in.
#[derive(Debug, Clone)]
pub struct Failure {
    pub case: String,
    pub output: Option<u64>,
    pub node: Option<String>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "case `{}`", self.case)?;
        if let Some(o) = self.output {
            write!(f, ", output {o}")?;
        }
        if let Some(n) = &self.node {
            write!(f, ", node `{n}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunSummary {
    pub cases: usize,
    pub outputs_written: usize,
    pub outputs_skipped: usize,
    pub failures: Vec<Failure>,
    /// Total time per node name, over all cases and outputs.
    pub timings: BTreeMap<String, Duration>,
    /// Cases never started because a write error stopped the run.
    pub not_started: usize,
    /// Problems of the run as a whole (not of a case), e.g. the final manifest rewrite.
    pub run_errors: Vec<String>,
}

impl RunSummary {
    /// `N cases, M outputs written, K failed` (K counts failed cases).
    #[must_use]
    pub fn line(&self) -> String {
        let failed: BTreeSet<&str> = self.failures.iter().map(|f| f.case.as_str()).collect();
        let mut s = format!("{} cases, {} outputs written", self.cases, self.outputs_written);
        if self.outputs_skipped > 0 {
            let _ = write!(s, ", {} skipped (already complete)", self.outputs_skipped);
        }
        let _ = write!(s, ", {} failed", failed.len());
        if self.not_started > 0 {
            let _ = write!(s, ", {} not started (the run stopped after a write error)", self.not_started);
        }
        s
    }

    /// Whether everything planned was written (nothing failed, nothing left out).
    #[must_use]
    pub fn complete(&self) -> bool {
        self.failures.is_empty() && self.not_started == 0 && self.run_errors.is_empty()
    }
}

/// The resample the runner uses for deferred values: the geometry crate's resampling core.
pub fn materialize(deferred: &Deferred) -> Result<Volume, OpError> {
    voxflow_geometry::spatial::materialize(deferred).map_err(OpError::other)
}

/// One output's files, relative to the output directory.
#[derive(Debug, Clone)]
pub struct PlannedOutput {
    pub case: usize,
    pub output: u64,
    pub files: Vec<String>,
}

/// At most this many (case, output) pairs in one run: the plan is held in memory (about 100
/// bytes each plus the paths), and a run of ten million outputs is a mistake, not a dataset.
pub const MAX_PLANNED_OUTPUTS: u64 = 10_000_000;

/// Every (case, output) of a run with the files it writes, checked before any work: the count
/// is bounded ([`MAX_PLANNED_OUTPUTS`]), every path stays under the output folder
/// ([`crate::paths::relative_output_path`]), and no two outputs write the same file.
pub fn plan(graph: &Graph, cases: &[Case], outputs: u64) -> Result<Vec<PlannedOutput>, RunError> {
    let total = (cases.len() as u64).saturating_mul(outputs);
    if total > MAX_PLANNED_OUTPUTS {
        return Err(RunError::Plan(format!(
            "{} cases x {outputs} outputs = {total} outputs; at most {MAX_PLANNED_OUTPUTS} per run \
             (split the run with --shard or lower `outputs`)",
            cases.len()
        )));
    }
    let mut plan = Vec::with_capacity(total as usize);
    let mut writer_of: std::collections::HashMap<String, (usize, u64, &str)> =
        std::collections::HashMap::new();
    let saves: Vec<&str> = graph.saves().map(|(node, _)| node.name.as_str()).collect();
    for (ci, case) in cases.iter().enumerate() {
        crate::dataset::check_case_id(&case.id, || "the case list".to_owned())
            .map_err(|e| RunError::Plan(e.to_string()))?;
        for output in 0..outputs {
            let files = graph.planned_files(&case.id, output);
            for (file, node) in files.iter().zip(&saves) {
                crate::paths::relative_output_path(file).map_err(|reason| {
                    RunError::Plan(format!(
                        "node `{node}` would write `{file}` for case `{}`, output {output}: {reason}",
                        case.id
                    ))
                })?;
                if let Some((other_case, other_output, other_node)) =
                    writer_of.insert(file.clone(), (ci, output, node))
                {
                    return Err(RunError::Plan(format!(
                        "two outputs write `{file}`: node `{other_node}` for case `{}`, output {other_output}, \
                         and node `{node}` for case `{}`, output {output}; put {{case}}, {{output}} or \
                         {{node}} in the save paths so each output has its own file",
                        cases[other_case].id, case.id
                    )));
                }
            }
            plan.push(PlannedOutput { case: ci, output, files });
        }
    }
    Ok(plan)
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
    pub draws: BTreeMap<String, serde_json::Value>,
    pub files: Vec<String>,
}

/// Runs a graph's nodes for one case: loads once, then any number of outputs.
pub struct CaseRunner<'a> {
    graph: &'a Graph,
    case: &'a Case,
    seed: u64,
    output_dir: &'a Path,
    loaded: BTreeMap<usize, Value>,
    timings: BTreeMap<String, Duration>,
}

impl std::fmt::Debug for CaseRunner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaseRunner").field("case", &self.case.id).finish_non_exhaustive()
    }
}

impl<'a> CaseRunner<'a> {
    /// Runs the graph's `load` nodes for `case` and checks that what they loaded shares one
    /// grid (image and label of a case must line up voxel for voxel).
    pub fn load(
        graph: &'a Graph,
        case: &'a Case,
        seed: u64,
        output_dir: &'a Path,
    ) -> Result<Self, NodeFailure> {
        let mut runner =
            CaseRunner { graph, case, seed, output_dir, loaded: BTreeMap::new(), timings: BTreeMap::new() };
        let mut grids: Vec<(usize, [usize; 3], voxflow_core::Affine)> = Vec::new();
        for (i, node) in graph.nodes.iter().enumerate() {
            if node.load.is_none() {
                continue;
            }
            let (value, _) = runner.run_node(i, 0, Inputs::default())?;
            if let Value::Volume(v) = &value {
                grids.push((i, v.shape3(), v.affine));
            }
            runner.loaded.insert(i, value);
        }
        if let Some((first, rest)) = grids.split_first() {
            for other in rest {
                let same_affine = (first.2 - other.2).abs().max() <= 1e-4 * (1.0 + first.2.abs().max());
                if first.1 != other.1 || !same_affine {
                    let describe = |(i, shape, affine): &(usize, [usize; 3], voxflow_core::Affine)| {
                        let node = &graph.nodes[*i];
                        let file = node
                            .load
                            .as_ref()
                            .and_then(|l| case.inputs.get(&l.input))
                            .map_or_else(|| "?".to_owned(), |p| p.display().to_string());
                        let rows: Vec<String> = (0..3)
                            .map(|r| format!("{:?}", (0..4).map(|c| affine[(r, c)]).collect::<Vec<_>>()))
                            .collect();
                        format!("{file} (node `{}`: shape {shape:?}, affine {})", node.name, rows.join(" "))
                    };
                    return Err(NodeFailure {
                        node: Some(graph.nodes[other.0].name.clone()),
                        message: format!(
                            "inputs are on different grids: {} vs {}",
                            describe(first),
                            describe(other)
                        ),
                        write_error: false,
                    });
                }
            }
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

    /// Runs every non-`load` node for one output.
    pub fn run_output(&mut self, output: u64) -> Result<OutputRecord, NodeFailure> {
        let graph = self.graph;
        let mut remaining: Vec<usize> = vec![0; graph.nodes.len()];
        for node in &graph.nodes {
            for &from in node.inputs.values() {
                remaining[from] += 1;
            }
        }
        let mut values: Vec<Option<Value>> = vec![None; graph.nodes.len()];
        // A deferred value resampled for one consumer is kept for the others that need voxels
        // (e.g. a label map used as the mask of two intensity ops), so it is resampled once.
        // Consumers that fuse still get the deferred value.
        let mut resampled: Vec<Option<Arc<Volume>>> = vec![None; graph.nodes.len()];
        let mut draws = BTreeMap::new();
        let mut files = Vec::new();
        for &i in &graph.order {
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
                            let start = Instant::now();
                            let volume = Arc::new(materialize(d).map_err(|e| NodeFailure {
                                node: Some(node.name.clone()),
                                message: format!("resampling input `{port}`: {}", error_chain(&e)),
                                write_error: false,
                            })?);
                            *self
                                .timings
                                .entry(format!("{} (resampling its input)", node.name))
                                .or_default() += start.elapsed();
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
                let (value, written) = self.run_node(i, output, inputs)?;
                for path in written {
                    files.push(relative(self.output_dir, &path));
                }
                value
            };
            if let Value::Draw(op) = &value {
                let json = serde_json::to_value(&**op).map_err(|e| NodeFailure {
                    node: Some(node.name.clone()),
                    message: format!("cannot record the draw: {e}"),
                    write_error: false,
                })?;
                draws.insert(node.name.clone(), json);
            }
            if remaining[i] > 0 {
                values[i] = Some(value);
            }
        }
        Ok(OutputRecord { draws, files })
    }
}

fn relative(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect::<Vec<_>>().join("/")
}

/// Runs `graph` over `cases` (see the module doc).
pub fn run(graph: &Graph, cases: &[Case], opts: &RunOptions) -> Result<RunSummary, RunError> {
    let seed = opts.seed.unwrap_or(graph.file.seed);
    let outputs = opts.outputs.unwrap_or(graph.file.outputs);
    let out_dir = &opts.output_dir;
    std::fs::create_dir_all(out_dir).map_err(|source| RunError::Io { path: out_dir.clone(), source })?;
    let manifest_path = manifest::path_in(out_dir);
    let plan = plan(graph, cases, outputs)?;

    // What is already there: complete outputs (resume) or a clash (neither flag).
    let mut done: BTreeSet<(String, u64)> = BTreeSet::new();
    let run_case_ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    if opts.resume {
        if manifest_path.exists() {
            // Drops a line cut off by a kill, so appended lines start on a line of their own.
            manifest::rewrite_sorted(&manifest_path)?;
        }
        remove_stale_temp_files(out_dir, &plan);
        for line in manifest::read(&manifest_path)? {
            if line.graph_hash != graph.hash || line.seed != seed {
                return Err(RunError::Resume(format!(
                    "{} was written by another graph or seed (graph {} seed {}, now graph {} seed {seed})",
                    manifest_path.display(),
                    line.graph_hash,
                    line.seed,
                    graph.hash
                )));
            }
            // An output counts as done only when its files are as they were written (size and
            // CRC-32): a file emptied by a crash or truncated since is redone.
            if run_case_ids.contains(line.case.as_str()) && line.files_intact(out_dir) {
                done.insert((line.case, line.output));
            }
        }
    } else if !opts.overwrite {
        let existing = std::iter::once(manifest_path.clone())
            .chain(plan.iter().flat_map(|p| p.files.iter().map(|f| out_dir.join(f))))
            .find(|p| p.exists());
        if let Some(path) = existing {
            return Err(RunError::OutputExists { path });
        }
    } else if manifest_path.exists() {
        std::fs::remove_file(&manifest_path)
            .map_err(|source| RunError::Io { path: manifest_path.clone(), source })?;
    }
    let manifest_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&manifest_path)
        .map_err(|source| RunError::Io { path: manifest_path.clone(), source })?;
    let manifest_file = Mutex::new(manifest_file);

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| RunError::Pool(e.to_string()))?;
    let progress = progress_bar(opts.progress, cases.len());
    let next = AtomicUsize::new(0);
    let started = AtomicUsize::new(0);
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let summary = Mutex::new(RunSummary { cases: cases.len(), ..RunSummary::default() });
    let workers = opts.max_cases_in_memory.max(1).min(cases.len().max(1));
    let graph_path = graph.path.clone();
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    // After a write error (disk full, quota), no new case starts: the ones in
                    // flight finish, and the summary says what did not run.
                    if stopped.load(Ordering::SeqCst) {
                        break;
                    }
                    let ci = next.fetch_add(1, Ordering::SeqCst);
                    let Some(case) = cases.get(ci) else { break };
                    started.fetch_add(1, Ordering::SeqCst);
                    let todo: Vec<u64> =
                        (0..outputs).filter(|&o| !done.contains(&(case.id.clone(), o))).collect();
                    // A panic (a bug, never bad input by design) fails this case, not the run.
                    let result = catch_case_panic(|| {
                        pool.install(|| {
                            run_case(graph, case, seed, out_dir, &todo, |output, record| {
                                let file_checks = record
                                    .files
                                    .iter()
                                    .map(|f| manifest::FileCheck::of(&out_dir.join(f)))
                                    .collect::<std::io::Result<Vec<_>>>()
                                    .map_err(|e| NodeFailure {
                                        node: None,
                                        message: format!("cannot read back what was written: {e}"),
                                        write_error: true,
                                    })?;
                                let line = ManifestLine {
                                    case: case.id.clone(),
                                    output,
                                    seed,
                                    draws: record.draws,
                                    files: record.files,
                                    file_checks,
                                    inputs: case.inputs.clone(),
                                    graph: graph_path.clone(),
                                    graph_hash: graph.hash.clone(),
                                    voxflow_version: crate::VERSION.to_owned(),
                                };
                                let mut file =
                                    manifest_file.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                                manifest::append(&mut file, &manifest_path, &line).map_err(|e| NodeFailure {
                                    node: None,
                                    message: error_chain(&e),
                                    write_error: true,
                                })
                            })
                        })
                    });
                    let mut s = summary.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.outputs_skipped += (outputs as usize) - todo.len();
                    s.outputs_written += result.written;
                    for (name, t) in result.timings {
                        *s.timings.entry(name).or_default() += t;
                    }
                    for (output, failure) in result.failures {
                        if failure.write_error {
                            stopped.store(true, Ordering::SeqCst);
                        }
                        let failure = Failure {
                            case: case.id.clone(),
                            output,
                            node: failure.node,
                            message: failure.message,
                        };
                        // Rendered once, by the caller, from the summary; here only noted.
                        tracing::info!(case = %failure.case, node = ?failure.node, "failed");
                        s.failures.push(failure);
                    }
                    drop(s);
                    tracing::info!(case = %case.id, "case done");
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                }
            });
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut summary = summary.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    summary.not_started = cases.len() - started.into_inner();
    // The sorted rewrite is a convenience: when it fails (the disk is still full) the appended
    // manifest stays, complete, and the failure joins the summary instead of hiding it.
    if let Err(e) = manifest::rewrite_sorted(&manifest_path) {
        summary.run_errors.push(format!("the manifest was left unsorted: {}", error_chain(&e)));
    }
    summary.failures.sort_by(|a, b| (&a.case, a.output).cmp(&(&b.case, b.output)));
    Ok(summary)
}

/// Removes io-nifti's temporary files (`.voxflow-*.tmp`, left by a killed write) from the
/// directories this run writes to.
fn remove_stale_temp_files(out_dir: &Path, plan: &[PlannedOutput]) {
    let dirs: BTreeSet<PathBuf> = plan
        .iter()
        .flat_map(|p| p.files.iter())
        .filter_map(|f| out_dir.join(f).parent().map(Path::to_path_buf))
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(".voxflow-") && entry.path().extension().is_some_and(|e| e == "tmp") {
                tracing::info!(file = %entry.path().display(), "removing a temporary file left by an interrupted write");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Runs one case, turning a panic into the case's failure.
fn catch_case_panic(f: impl FnOnce() -> CaseResult) -> CaseResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_owned());
        CaseResult {
            written: 0,
            failures: vec![(
                None,
                NodeFailure {
                    node: None,
                    message: format!("internal error (a bug in voxflow, please report it): {what}"),
                    write_error: false,
                },
            )],
            timings: BTreeMap::new(),
        }
    })
}

struct CaseResult {
    written: usize,
    failures: Vec<(Option<u64>, NodeFailure)>,
    timings: BTreeMap<String, Duration>,
}

fn run_case(
    graph: &Graph,
    case: &Case,
    seed: u64,
    out_dir: &Path,
    outputs: &[u64],
    mut done: impl FnMut(u64, OutputRecord) -> Result<(), NodeFailure>,
) -> CaseResult {
    let mut result = CaseResult { written: 0, failures: Vec::new(), timings: BTreeMap::new() };
    if outputs.is_empty() {
        return result;
    }
    let mut runner = match CaseRunner::load(graph, case, seed, out_dir) {
        Ok(r) => r,
        Err(failure) => {
            result.failures.push((None, failure));
            return result;
        }
    };
    for &output in outputs {
        match runner.run_output(output).and_then(|record| done(output, record)) {
            Ok(()) => result.written += 1,
            Err(failure) => result.failures.push((Some(output), failure)),
        }
    }
    result.timings = std::mem::take(&mut runner.timings);
    result
}

fn progress_bar(enabled: bool, len: usize) -> Option<indicatif::ProgressBar> {
    if !enabled {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len as u64);
    let style = indicatif::ProgressStyle::with_template(
        "{bar:40} {pos}/{len} cases  {per_sec}  ETA {eta}  {elapsed_precise}",
    )
    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    Some(bar)
}

/// Re-runs the one output a manifest line describes, into `output_dir` (files are replaced),
/// and checks that the draws are those the line recorded.
pub fn replay(line: &ManifestLine, output_dir: &Path) -> Result<OutputRecord, RunError> {
    let graph_path = line
        .graph
        .as_ref()
        .ok_or_else(|| RunError::Replay("the manifest line names no graph file".into()))?;
    let graph = Graph::from_path(graph_path).map_err(|e| RunError::Replay(error_chain(&e)))?;
    if graph.hash != line.graph_hash {
        return Err(RunError::Replay(format!(
            "{} has changed since the run (hash {} now, {} then)",
            graph_path.display(),
            graph.hash,
            line.graph_hash
        )));
    }
    std::fs::create_dir_all(output_dir).map_err(|source| RunError::Io { path: output_dir.into(), source })?;
    crate::dataset::check_case_id(&line.case, || "the manifest line".to_owned())
        .map_err(|e| RunError::Replay(e.to_string()))?;
    let case = Case { id: line.case.clone(), inputs: line.inputs.clone() };
    // The same checks as a run: every file this output writes stays under `output_dir`.
    plan(&graph, std::slice::from_ref(&case), line.output.saturating_add(1))
        .map_err(|e| RunError::Replay(e.to_string()))?;
    let fail = |f: NodeFailure| {
        RunError::Replay(
            Failure { case: case.id.clone(), output: Some(line.output), node: f.node, message: f.message }
                .to_string(),
        )
    };
    let mut runner = CaseRunner::load(&graph, &case, line.seed, output_dir).map_err(fail)?;
    let record = runner.run_output(line.output).map_err(fail)?;
    let same = record.draws.len() == line.draws.len()
        && record.draws.iter().zip(&line.draws).all(|((na, a), (nb, b))| na == nb && json_close(a, b));
    if !same {
        return Err(RunError::Replay(format!(
            "the draws differ from the manifest's: {} now, {} then",
            serde_json::to_string(&record.draws).unwrap_or_default(),
            serde_json::to_string(&line.draws).unwrap_or_default()
        )));
    }
    Ok(record)
}

/// Equal JSON, numbers within 1e-12 relative (a manifest's text does not round-trip floats to
/// the last bit).
fn json_close(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (J::Array(x), J::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_close(x, y)),
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| json_close(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_fails_its_case_only() {
        let result = catch_case_panic(|| panic!("index out of bounds: the len is 3 but the index is 7"));
        assert_eq!(result.written, 0);
        let [(None, failure)] = result.failures.as_slice() else { panic!("one failure expected") };
        assert!(
            failure.message.contains("internal error") && failure.message.contains("index out of bounds")
        );
        assert!(!failure.write_error);
        let fine =
            catch_case_panic(|| CaseResult { written: 2, failures: Vec::new(), timings: BTreeMap::new() });
        assert_eq!(fine.written, 2);
    }
}
