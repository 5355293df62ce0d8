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
//! The pieces: `plan` (every output's files, checked against the output-folder policy before
//! any work), `case` (the executor: one case's nodes in topological order, for any number of
//! outputs, writing files or handing volumes back in memory), this module (the scheduler over
//! cases, the manifest, resume) and `replay` (one manifest line again).

mod case;
mod plan;
mod replay;

pub use case::{Capture, CaseRunner, NodeFailure, OutputRecord, materialize};
pub use plan::{MAX_PLANNED_OUTPUTS, PlannedOutput, plan};
pub use replay::replay;

use crate::dataset::{Case, Shard};
use crate::error_render::error_chain;
use crate::graph::Graph;
use crate::ledger::{self, FailureLine, Ledger, RunIdentity};
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
    /// Without a bar: log a progress line (done/total, rate, ETA) at most this often.
    pub log_every: Option<Duration>,
    /// The shard this process runs (recorded in `manifest.d` and named in progress lines).
    pub shard: Option<Shard>,
    /// Every case id of the dataset before sharding (what a complete run covers); default:
    /// the cases given to [`run`].
    pub dataset_cases: Option<Vec<String>>,
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
            log_every: None,
            shard: None,
            dataset_cases: None,
        }
    }
}

/// Why a run could not start (a failing case is not a `RunError`: see [`RunSummary`]).
#[derive(Debug, Error)]
pub enum RunError {
    #[error("{path} already exists: pass --resume to continue a run or --overwrite to replace it")]
    OutputExists { path: PathBuf },
    #[error(
        "{path} holds the outputs of another run ({other}; this one is {this}): pass --overwrite \
         to replace them, or choose another output folder"
    )]
    OtherRun { path: PathBuf, other: String, this: String },
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
    run_observed(graph, cases, opts, &|_, _| {})
}

/// [`run`], calling `case_done(case, lines)` as each case finishes, from the worker that ran
/// it, with the manifest lines of the outputs it wrote (none when every output failed or was
/// done already). `--report` draws the case's pictures there, while the run goes on.
pub fn run_observed(
    graph: &Graph,
    cases: &[Case],
    opts: &RunOptions,
    case_done: &(dyn Fn(&str, Vec<ManifestLine>) + Sync),
) -> Result<RunSummary, RunError> {
    let seed = opts.seed.unwrap_or(graph.file.seed);
    let outputs = opts.outputs.unwrap_or(graph.file.outputs);
    let out_dir = &opts.output_dir;
    std::fs::create_dir_all(out_dir).map_err(|source| RunError::Io { path: out_dir.clone(), source })?;
    let plan = plan(graph, cases, outputs)?;
    let identity = RunIdentity { graph_hash: graph.hash.clone(), seed };
    let io = |path: &Path| {
        let path = path.to_owned();
        move |e: manifest::ManifestError| match e {
            manifest::ManifestError::Io { source, .. } => RunError::Io { path, source },
            other => RunError::Manifest(other),
        }
    };

    // What is already there: complete outputs (resume), or a clash (neither flag). Other
    // processes may be writing into the folder at the same time (shards of one job array):
    // nothing of theirs is removed or rewritten here.
    let mut done: BTreeSet<(String, u64)> = BTreeSet::new();
    let run_case_ids: BTreeSet<&str> = cases.iter().map(|c| c.id.as_str()).collect();
    if opts.resume {
        ledger::adopt_legacy(out_dir)?;
        remove_stale_temp_files(out_dir, &plan);
        let folder = ledger::read(out_dir)?;
        if let Some(other) = folder.identities().into_iter().find(|i| *i != identity) {
            return Err(RunError::Resume(format!(
                "{} was written by another graph or seed ({other}, now {identity})",
                out_dir.display()
            )));
        }
        // An output counts as done only when its files are as they were written (size and
        // CRC-32): a file emptied by a crash or truncated since is redone.
        for (key, line) in folder.done {
            if run_case_ids.contains(key.0.as_str()) && line.files_intact(out_dir) {
                done.insert(key);
            }
        }
    } else if opts.overwrite {
        ledger::remove_other_runs(out_dir, &identity)?;
        let legacy = manifest::path_in(out_dir);
        if !out_dir.join(ledger::DIR).exists() && legacy.exists() {
            std::fs::remove_file(&legacy).map_err(|source| RunError::Io { path: legacy.clone(), source })?;
        }
    } else {
        if let Some(path) =
            plan.iter().flat_map(|p| p.files.iter().map(|f| out_dir.join(f))).find(|p| p.exists())
        {
            return Err(RunError::OutputExists { path });
        }
        // Another run's records (another graph or seed, or a manifest from before 0.2): the
        // folder is not this run's. The same run's other shards are welcome.
        let folder = ledger::read(out_dir)?;
        if folder.legacy {
            return Err(RunError::OutputExists { path: manifest::path_in(out_dir) });
        }
        if let Some(other) = folder.identities().into_iter().find(|i| *i != identity) {
            return Err(RunError::OtherRun {
                path: out_dir.clone(),
                other: other.to_string(),
                this: identity.to_string(),
            });
        }
    }
    let dataset_cases =
        opts.dataset_cases.clone().unwrap_or_else(|| cases.iter().map(|c| c.id.clone()).collect());
    let mut ledger = Ledger::start(
        out_dir,
        &identity,
        outputs,
        opts.shard,
        dataset_cases,
        cases.iter().map(|c| c.id.clone()).collect(),
    )
    .map_err(io(&out_dir.join(ledger::DIR)))?;
    tracing::debug!(writer = ledger.writer(), "recording into {}", out_dir.join(ledger::DIR).display());

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.max(1))
        .build()
        .map_err(|e| RunError::Pool(e.to_string()))?;
    let progress = progress_bar(opts.progress, cases.len());
    let progress_log = Mutex::new(ProgressLog::new(cases.len(), opts.shard, opts.log_every));
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
                    let mut written_lines = Vec::new();
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
                                    saved: record.saved,
                                    file_checks,
                                    inputs: case.inputs.clone(),
                                    graph: graph_path.clone(),
                                    graph_hash: graph.hash.clone(),
                                    voxflow_version: crate::VERSION.to_owned(),
                                };
                                ledger.append_done(&line).map_err(|e| NodeFailure {
                                    node: None,
                                    message: error_chain(&e),
                                    write_error: true,
                                })?;
                                written_lines.push(line);
                                Ok(())
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
                        // Rendered once, by the caller, from the summary; here only noted, and
                        // recorded for `graphrun status` and `--only-failed`.
                        tracing::info!(case = %failure.case, node = ?failure.node, "failed");
                        let record = FailureLine {
                            case: failure.case.clone(),
                            output: failure.output,
                            node: failure.node.clone(),
                            message: failure.message.clone(),
                            writer: String::new(),
                        };
                        if let Err(e) = ledger.append_failure(&record) {
                            s.run_errors.push(format!("cannot record a failure: {}", error_chain(&e)));
                        }
                        s.failures.push(failure);
                    }
                    let failed_cases =
                        s.failures.iter().map(|f| f.case.as_str()).collect::<BTreeSet<_>>().len();
                    drop(s);
                    tracing::debug!(case = %case.id, "case done");
                    if !written_lines.is_empty() {
                        case_done(&case.id, written_lines);
                    }
                    if let Some(bar) = &progress {
                        bar.inc(1);
                    }
                    progress_log
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .case_done(failed_cases);
                }
            });
        }
    });
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let mut summary = summary.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    summary.not_started = cases.len() - started.into_inner();
    // The writer's own lines are complete already; the record's end and the merged
    // `manifest.jsonl` are conveniences: when they fail (the disk is still full) the failure
    // joins the summary instead of hiding it, and `graphrun merge` can redo them.
    if let Err(e) = ledger.finish(&summary.timings) {
        summary.run_errors.push(format!("the run's record was not finished: {}", error_chain(&e)));
    }
    if let Err(e) = ledger::merge(out_dir, |_| Ok(())) {
        summary
            .run_errors
            .push(format!("manifest.jsonl was not merged (run `graphrun merge`): {}", error_chain(&e)));
    }
    summary.failures.sort_by(|a, b| (&a.case, a.output).cmp(&(&b.case, b.output)));
    Ok(summary)
}

/// Removes temporary files (`.voxflow-{pid}@{host}@*.tmp`, see
/// [`voxflow_io_nifti::write::temp_prefix`]) left by a killed write, from the output folder and
/// the directories this run writes to: only those of a process of this machine that is no
/// longer running. Other machines' files, and files of live processes (another shard writing
/// now), are never touched.
fn remove_stale_temp_files(out_dir: &Path, plan: &[PlannedOutput]) {
    let host = voxflow_io_nifti::write::host_name();
    let dirs: BTreeSet<PathBuf> = plan
        .iter()
        .flat_map(|p| p.files.iter())
        .filter_map(|f| out_dir.join(f).parent().map(Path::to_path_buf))
        .chain([out_dir.to_path_buf(), out_dir.join(ledger::DIR)])
        .collect();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some((pid, owner_host)) = voxflow_io_nifti::write::temp_owner(&name) else { continue };
            if owner_host == host && !process_alive(pid) {
                tracing::info!(file = %entry.path().display(), "removing a temporary file left by an interrupted write");
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

/// Whether a process of this machine is running (Linux: `/proc/PID` exists). Where that cannot
/// be told, every process counts as running, so nothing is removed.
fn process_alive(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

/// Progress as log lines, for runs without a terminal (a job's log file): done/total, failed,
/// rate and ETA, with the shard, at most once per interval and at the end.
struct ProgressLog {
    total: usize,
    done: usize,
    shard: Option<Shard>,
    every: Option<Duration>,
    started: std::time::Instant,
    last: std::time::Instant,
}

impl ProgressLog {
    fn new(total: usize, shard: Option<Shard>, every: Option<Duration>) -> Self {
        let now = std::time::Instant::now();
        ProgressLog { total, done: 0, shard, every, started: now, last: now }
    }

    fn case_done(&mut self, failed: usize) {
        self.done += 1;
        let Some(every) = self.every else { return };
        if self.last.elapsed() < every && self.done < self.total {
            return;
        }
        self.last = std::time::Instant::now();
        let line = progress_line(self.done, self.total, failed, self.started.elapsed(), self.shard);
        tracing::info!("{line}");
    }
}

/// `shard 2/4: 12/40 cases (30%), 1 failed, 3.1 cases/min, ETA 9m02s`.
fn progress_line(
    done: usize,
    total: usize,
    failed: usize,
    elapsed: Duration,
    shard: Option<Shard>,
) -> String {
    let mut s = String::new();
    if let Some(shard) = shard {
        let _ = write!(s, "shard {}/{}: ", shard.index, shard.count);
    }
    let percent = if total == 0 { 100.0 } else { 100.0 * done as f64 / total as f64 };
    let _ = write!(s, "{done}/{total} cases ({percent:.0}%), {failed} failed");
    let secs = elapsed.as_secs_f64();
    if done > 0 && secs > 0.0 {
        let _ = write!(s, ", {:.1} cases/min", done as f64 * 60.0 / secs);
        let left = (secs / done as f64 * (total - done) as f64).round() as u64;
        let _ = write!(s, ", ETA {}", clock(left));
    }
    let _ = write!(s, ", elapsed {}", clock(elapsed.as_secs()));
    s
}

/// `1h02m03s`, `9m02s`, `42s`.
fn clock(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
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
    fn progress_lines_say_shard_count_rate_and_eta() {
        let shard = Some(Shard { index: 2, count: 4 });
        assert_eq!(
            progress_line(10, 40, 1, Duration::from_mins(2), shard),
            "shard 2/4: 10/40 cases (25%), 1 failed, 5.0 cases/min, ETA 6m00s, elapsed 2m00s"
        );
        assert_eq!(progress_line(0, 3, 0, Duration::ZERO, None), "0/3 cases (0%), 0 failed, elapsed 0s");
        assert_eq!(clock(3723), "1h02m03s");
    }

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
