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
//!
//! The pieces: [`plan`] (every output's files, checked against the output-folder policy before
//! any work), [`case`] (the executor: one case's nodes in topological order, for any number of
//! outputs, writing files or handing volumes back in memory), this module (the scheduler over
//! cases, the manifest, resume) and [`replay`] (one manifest line again).

mod case;
mod plan;
mod replay;

pub use case::{Capture, CaseRunner, NodeFailure, OutputRecord, materialize};
pub use plan::{MAX_PLANNED_OUTPUTS, PlannedOutput, plan};
pub use replay::replay;

use crate::dataset::Case;
use crate::error_render::error_chain;
use crate::graph::Graph;
use crate::manifest::{self, ManifestLine};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use thiserror::Error;

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
