//! `OUT/manifest.d/`: what every `graphrun` process writing into one output folder did, each in
//! files that only it writes, so that any number of processes (a Slurm job array, a Kubernetes
//! Indexed Job, on several machines) can share the folder and lose nothing.
//!
//! Shared cluster filesystems (NFS, Lustre) do not keep appends from several clients in order,
//! and their locks are not to be trusted, so nothing here is shared for writing:
//! * `{writer}.json`: the writer's record (graph hash, seed, outputs, shard, the dataset's case
//!   ids, start, and at the end its finish time and timings), written at start and at the end
//!   by that writer only, each time atomically;
//! * `{writer}.jsonl`: one manifest line per completed output, appended by that writer only
//!   (opened, appended, closed per line: close-to-open consistency on NFS);
//! * `{writer}.failed.jsonl`: one line per failed case or output.
//!
//! The writer id is unique per process (`shard-2of4.host.pid.nanos`), so a resubmitted task
//! never writes into the files of the one it replaces. `manifest.jsonl`, sorted by (case,
//! output), is derived: [`merge`] builds it from every writer's lines, atomically and
//! idempotently, and repeats until no writer added a line while it worked, so that whichever
//! process merges last leaves every line in. Every run merges at its end; `graphrun merge`
//! does the same on its own. [`status`] compares what was planned with what is done.

use crate::dataset::Shard;
use crate::manifest::{self, ManifestError, ManifestLine};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The folder of writers' files inside the output folder.
pub const DIR: &str = "manifest.d";

/// What one process set out to do, and (once finished) how long each node took.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WriterRecord {
    pub writer: String,
    pub host: String,
    pub pid: u32,
    /// Seconds since the Unix epoch.
    pub started: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished: Option<u64>,
    pub graph_hash: String,
    pub seed: u64,
    pub outputs: u64,
    /// `{index, count}` when the process ran one shard of the dataset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardRecord>,
    /// Every case id of the dataset (before sharding), sorted: what a complete run covers.
    pub dataset_cases: Vec<String>,
    /// The cases this process was given (its shard, or the failed ones with `--only-failed`).
    pub cases: Vec<String>,
    /// Total time per node over this process's cases, in milliseconds (at the end).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub timings_ms: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct ShardRecord {
    pub index: usize,
    pub count: usize,
}

impl From<Shard> for ShardRecord {
    fn from(s: Shard) -> Self {
        ShardRecord { index: s.index, count: s.count }
    }
}

/// A failed case (`output: None`: it failed before any output, e.g. loading) or output.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FailureLine {
    pub case: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub message: String,
    /// The writer that recorded it.
    #[serde(default)]
    pub writer: String,
}

/// The graph and seed a folder's outputs come from: lines of another run cannot be mixed in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RunIdentity {
    pub graph_hash: String,
    pub seed: u64,
}

impl std::fmt::Display for RunIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "graph {} seed {}", self.graph_hash, self.seed)
    }
}

/// This process's files in `manifest.d`.
#[derive(Debug)]
pub struct Ledger {
    dir: PathBuf,
    record: WriterRecord,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> ManifestError + '_ {
    move |source| ManifestError::Io { path: path.to_owned(), source }
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A writer id unique to this process: shard, host, pid and the start time in nanoseconds.
fn writer_id(shard: Option<Shard>) -> String {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let shard = shard.map_or_else(|| "all".to_owned(), |s| format!("shard-{}of{}", s.index, s.count));
    let host = voxflow_io_nifti::write::host_name().replace('.', "_");
    format!("{shard}.{host}.{}.{nanos:x}", std::process::id())
}

/// Writes `text` to `path` atomically: a temporary file of this process (named so that
/// [`crate::run`]'s cleanup can tell whose it is), synced, then renamed over `path`.
pub fn write_atomically(path: &Path, text: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let prefix = voxflow_io_nifti::write::temp_prefix();
    let mut tmp = tempfile::Builder::new().prefix(&prefix).suffix(".tmp").tempfile_in(dir)?;
    tmp.write_all(text)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    voxflow_io_nifti::write::sync_dir(dir)
}

fn append_line(path: &Path, text: &str) -> Result<(), ManifestError> {
    let mut file =
        std::fs::OpenOptions::new().create(true).append(true).open(path).map_err(io_error(path))?;
    let mut line = text.to_owned();
    line.push('\n');
    // One write of the whole line, then close: what another machine reads after opening the
    // file has it whole (close-to-open consistency).
    file.write_all(line.as_bytes()).map_err(io_error(path))
}

impl Ledger {
    /// Starts this process's record in `output_dir/manifest.d`.
    pub fn start(
        output_dir: &Path,
        identity: &RunIdentity,
        outputs: u64,
        shard: Option<Shard>,
        dataset_cases: Vec<String>,
        cases: Vec<String>,
    ) -> Result<Ledger, ManifestError> {
        let dir = output_dir.join(DIR);
        std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
        let record = WriterRecord {
            writer: writer_id(shard),
            host: voxflow_io_nifti::write::host_name().to_owned(),
            pid: std::process::id(),
            started: now(),
            finished: None,
            graph_hash: identity.graph_hash.clone(),
            seed: identity.seed,
            outputs,
            shard: shard.map(ShardRecord::from),
            dataset_cases,
            cases,
            timings_ms: BTreeMap::new(),
        };
        let ledger = Ledger { dir, record };
        ledger.write_record()?;
        Ok(ledger)
    }

    /// This writer's id.
    #[must_use]
    pub fn writer(&self) -> &str {
        &self.record.writer
    }

    fn write_record(&self) -> Result<(), ManifestError> {
        let path = self.dir.join(format!("{}.json", self.record.writer));
        let text = serde_json::to_string_pretty(&self.record).unwrap_or_default();
        write_atomically(&path, text.as_bytes()).map_err(io_error(&path))
    }

    /// Records a completed output (after all of its files exist).
    pub fn append_done(&self, line: &ManifestLine) -> Result<(), ManifestError> {
        append_line(&self.dir.join(format!("{}.jsonl", self.record.writer)), &manifest::to_line(line))
    }

    /// Records a failed case or output.
    pub fn append_failure(&self, failure: &FailureLine) -> Result<(), ManifestError> {
        let mut failure = failure.clone();
        failure.writer.clone_from(&self.record.writer);
        let text = serde_json::to_string(&failure).unwrap_or_default();
        append_line(&self.dir.join(format!("{}.failed.jsonl", self.record.writer)), &text)
    }

    /// Marks the record finished, with the time spent per node.
    pub fn finish(&mut self, timings: &BTreeMap<String, std::time::Duration>) -> Result<(), ManifestError> {
        self.record.finished = Some(now());
        self.record.timings_ms = timings.iter().map(|(k, v)| (k.clone(), v.as_secs_f64() * 1e3)).collect();
        self.write_record()
    }
}

/// Everything recorded in an output folder.
#[derive(Debug, Default)]
pub struct Folder {
    pub records: Vec<WriterRecord>,
    /// Completed outputs, one per (case, output): the first in writer order (every writer of
    /// one run writes the same bytes, so equal keys have equal lines).
    pub done: BTreeMap<(String, u64), ManifestLine>,
    /// Lines of another graph or seed than the newest record's, by identity.
    pub foreign: BTreeMap<RunIdentity, usize>,
    pub failures: Vec<FailureLine>,
    /// `manifest.jsonl` without `manifest.d`: a folder written by voxflow before 0.2.0, whose
    /// lines are read as one writer's.
    pub legacy: bool,
    /// (file, bytes) of every writer file read: two reads with equal fingerprints saw the
    /// same lines.
    fingerprint: Vec<(String, u64)>,
}

impl Folder {
    /// The run the folder holds: the newest record's graph and seed, or that of its lines.
    #[must_use]
    pub fn identity(&self) -> Option<RunIdentity> {
        self.records
            .iter()
            .max_by_key(|r| (r.started, r.writer.clone()))
            .map(|r| RunIdentity { graph_hash: r.graph_hash.clone(), seed: r.seed })
            .or_else(|| {
                self.done
                    .values()
                    .next()
                    .map(|l| RunIdentity { graph_hash: l.graph_hash.clone(), seed: l.seed })
            })
    }

    /// Every identity found in records and lines (more than one: two runs share the folder).
    #[must_use]
    pub fn identities(&self) -> BTreeSet<RunIdentity> {
        let mut all: BTreeSet<RunIdentity> = self
            .records
            .iter()
            .map(|r| RunIdentity { graph_hash: r.graph_hash.clone(), seed: r.seed })
            .collect();
        all.extend(self.foreign.keys().cloned());
        all.extend(self.identity());
        all
    }

    /// Time per node summed over the records of the folder's run (every shard's).
    #[must_use]
    pub fn timings(&self) -> BTreeMap<String, std::time::Duration> {
        let mut total: BTreeMap<String, std::time::Duration> = BTreeMap::new();
        let identity = self.identity();
        for r in &self.records {
            if identity.as_ref().is_some_and(|i| i.graph_hash == r.graph_hash && i.seed == r.seed) {
                for (node, ms) in &r.timings_ms {
                    *total.entry(node.clone()).or_default() +=
                        std::time::Duration::from_secs_f64(ms.max(0.0) / 1e3);
                }
            }
        }
        total
    }

    /// Whether anything at all was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.done.is_empty() && self.foreign.is_empty() && self.failures.is_empty()
    }

    /// Failures not since made good by a completed output (a case failure counts until every
    /// output the case's writer planned is done).
    #[must_use]
    pub fn outstanding_failures(&self) -> Vec<&FailureLine> {
        let outputs_of =
            |writer: &str| self.records.iter().find(|r| r.writer == writer).map_or(1, |r| r.outputs);
        self.failures
            .iter()
            .filter(|f| match f.output {
                Some(o) => !self.done.contains_key(&(f.case.clone(), o)),
                None => (0..outputs_of(&f.writer)).any(|o| !self.done.contains_key(&(f.case.clone(), o))),
            })
            .collect()
    }
}

/// The three kinds of file a writer has in `manifest.d` (names are ours, in one case).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Record,
    Lines,
    Failures,
}

fn part_of(name: &str) -> Option<Part> {
    if name.strip_suffix(".failed.jsonl").is_some() {
        Some(Part::Failures)
    } else if name.strip_suffix(".jsonl").is_some() {
        Some(Part::Lines)
    } else if name.strip_suffix(".json").is_some() {
        Some(Part::Record)
    } else {
        None
    }
}

fn read_records(dir: &Path) -> Result<(Vec<WriterRecord>, Vec<String>), ManifestError> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(source) => return Err(ManifestError::Io { path: dir.to_owned(), source }),
    };
    names.retain(|n| !n.starts_with('.'));
    names.sort();
    let mut records = Vec::new();
    for name in names.iter().filter(|n| part_of(n) == Some(Part::Record)) {
        let path = dir.join(name);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            // Removed by `--overwrite` of another run since the listing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        let record =
            serde_json::from_str(&text).map_err(|source| ManifestError::Json { path, line: 1, source })?;
        records.push(record);
    }
    Ok((records, names))
}

fn read_failures(path: &Path) -> Result<Vec<FailureLine>, ManifestError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(ManifestError::Io { path: path.to_owned(), source }),
    };
    // A line cut off by a kill is skipped, as in the manifest.
    Ok(text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect())
}

/// Reads an output folder's records and lines.
pub fn read(output_dir: &Path) -> Result<Folder, ManifestError> {
    let dir = output_dir.join(DIR);
    let (records, names) = read_records(&dir)?;
    let mut folder = Folder { records, ..Folder::default() };
    let mut line_files: Vec<PathBuf> =
        names.iter().filter(|n| part_of(n) == Some(Part::Lines)).map(|n| dir.join(n)).collect();
    if !dir.exists() && manifest::path_in(output_dir).exists() {
        folder.legacy = true;
        line_files.push(manifest::path_in(output_dir));
    }
    let mut lines = Vec::new();
    for path in &line_files {
        let read = manifest::read(path)?;
        let bytes = std::fs::File::open(path).and_then(|f| f.metadata()).map_or(0, |m| m.len());
        folder.fingerprint.push((path.to_string_lossy().into_owned(), bytes));
        lines.extend(read);
    }
    for name in names.iter().filter(|n| part_of(n) == Some(Part::Failures)) {
        let path = dir.join(name);
        let bytes = std::fs::File::open(&path).and_then(|f| f.metadata()).map_or(0, |m| m.len());
        folder.fingerprint.push((path.to_string_lossy().into_owned(), bytes));
        folder.failures.extend(read_failures(&path)?);
    }
    let identity = folder.identity();
    for line in lines {
        let line_identity = RunIdentity { graph_hash: line.graph_hash.clone(), seed: line.seed };
        if identity.as_ref().is_some_and(|i| *i != line_identity) {
            *folder.foreign.entry(line_identity).or_default() += 1;
        } else {
            folder.done.entry((line.case.clone(), line.output)).or_insert(line);
        }
    }
    Ok(folder)
}

/// Removes the records and lines of runs other than `keep` (`--overwrite` by a new run). Only
/// whole writers' files of another identity are removed: those of this run's other shards stay.
pub fn remove_other_runs(output_dir: &Path, keep: &RunIdentity) -> Result<usize, ManifestError> {
    let dir = output_dir.join(DIR);
    let (records, _) = read_records(&dir)?;
    let mut removed = 0;
    for record in records.iter().filter(|r| r.graph_hash != keep.graph_hash || r.seed != keep.seed) {
        for suffix in [".jsonl", ".failed.jsonl", ".json"] {
            let path = dir.join(format!("{}{suffix}", record.writer));
            match std::fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(ManifestError::Io { path, source }),
            }
        }
    }
    Ok(removed)
}

/// Makes a folder written by voxflow before 0.2.0 (a `manifest.jsonl` only) one of this kind:
/// its lines become the writer `legacy`'s. Safe to run by several processes at once.
pub fn adopt_legacy(output_dir: &Path) -> Result<(), ManifestError> {
    let dir = output_dir.join(DIR);
    let old = manifest::path_in(output_dir);
    if dir.exists() || !old.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(&dir).map_err(io_error(&dir))?;
    let text = std::fs::read(&old).map_err(io_error(&old))?;
    let path = dir.join("legacy.jsonl");
    write_atomically(&path, &text).map_err(io_error(&path))
}

/// What [`merge`] did.
#[derive(Debug)]
pub struct Merged {
    pub lines: usize,
    /// The lines of the merged manifest (sorted by case, output).
    pub folder: Folder,
}

/// Rebuilds `manifest.jsonl` from every writer's lines of the folder's run, sorted by (case,
/// output), atomically; reads again afterwards and repeats while another writer added lines
/// meanwhile (at most a few times: a writer still running merges again when it ends).
/// `after_write` runs after each write (e.g. to write the report from the same lines).
pub fn merge(
    output_dir: &Path,
    mut after_write: impl FnMut(&Folder) -> Result<(), ManifestError>,
) -> Result<Merged, ManifestError> {
    let target = manifest::path_in(output_dir);
    let mut folder = read(output_dir)?;
    for _ in 0..8 {
        let mut text = String::new();
        for line in folder.done.values() {
            text.push_str(&manifest::to_line(line));
            text.push('\n');
        }
        let same = std::fs::read(&target).is_ok_and(|old| old == text.as_bytes());
        if !same {
            write_atomically(&target, text.as_bytes()).map_err(io_error(&target))?;
        }
        after_write(&folder)?;
        let again = read(output_dir)?;
        if again.fingerprint == folder.fingerprint {
            break;
        }
        folder = again;
    }
    Ok(Merged { lines: folder.done.len(), folder })
}

/// One shard's (or the whole run's, when it was not sharded) progress.
#[derive(Debug, Clone, Serialize)]
pub struct ShardStatus {
    /// `null` for processes that ran the whole dataset.
    pub shard: Option<ShardRecord>,
    pub planned: usize,
    pub done: usize,
    pub failed: usize,
    pub missing: usize,
    /// Processes that worked on it, and how many of them finished.
    pub writers: usize,
    pub finished_writers: usize,
}

/// `graphrun status`: planned against done and failed outputs.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub output_dir: PathBuf,
    pub graph_hash: String,
    pub seed: u64,
    pub outputs_per_case: u64,
    pub cases: usize,
    pub planned: usize,
    pub done: usize,
    pub failed: usize,
    pub missing: usize,
    pub shards: Vec<ShardStatus>,
    /// Failures not since made good.
    pub failures: Vec<FailureLine>,
    /// Planned outputs neither done nor failed (first 1000), as (case, output).
    pub missing_outputs: Vec<(String, u64)>,
    /// Outputs listed as done whose files are missing or changed.
    pub damaged: Vec<(String, u64)>,
    /// Other runs' lines still in the folder.
    pub other_runs: Vec<String>,
    pub complete: bool,
}

/// Why [`status`] cannot tell.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0} holds no voxflow run (no manifest.d/ records)")]
    NoRun(PathBuf),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// The state of the run in `output_dir`. With `verify`, every done output's files are checked
/// whole (size and CRC-32); otherwise only that they exist at their recorded size.
pub fn status(output_dir: &Path, verify: bool) -> Result<Status, StatusError> {
    let folder = read(output_dir)?;
    let Some(identity) = folder.identity() else {
        return Err(StatusError::NoRun(output_dir.to_owned()));
    };
    let records: Vec<&WriterRecord> = folder
        .records
        .iter()
        .filter(|r| r.graph_hash == identity.graph_hash && r.seed == identity.seed)
        .collect();
    if records.is_empty() {
        return Err(StatusError::NoRun(output_dir.to_owned()));
    }
    let newest = records.iter().max_by_key(|r| (r.started, r.writer.clone())).expect("a record");
    let outputs = newest.outputs;
    let cases: BTreeSet<&str> =
        records.iter().flat_map(|r| r.dataset_cases.iter().map(String::as_str)).collect();
    let case_index: BTreeMap<&str, usize> = cases.iter().enumerate().map(|(i, c)| (*c, i)).collect();

    let damaged: BTreeSet<(String, u64)> = folder
        .done
        .iter()
        .filter(|(_, line)| !files_present(output_dir, line, verify))
        .map(|(k, _)| k.clone())
        .collect();
    let is_done = |key: &(String, u64)| folder.done.contains_key(key) && !damaged.contains(key);
    let outstanding = folder.outstanding_failures();
    let failed_keys: BTreeSet<(String, u64)> = outstanding
        .iter()
        .flat_map(|f| match f.output {
            Some(o) => vec![(f.case.clone(), o)],
            None => (0..outputs).map(|o| (f.case.clone(), o)).collect(),
        })
        .filter(|k| !is_done(k))
        .collect();

    // Shards: the newest sharded record's count, else one group for the whole dataset.
    let count = records
        .iter()
        .filter(|r| r.shard.is_some())
        .max_by_key(|r| (r.started, r.writer.clone()))
        .and_then(|r| r.shard)
        .map(|s| s.count);
    let groups: Vec<Option<ShardRecord>> = match count {
        Some(n) => (0..n).map(|index| Some(ShardRecord { index, count: n })).collect(),
        None => vec![None],
    };
    let mut shards = Vec::new();
    let mut missing_outputs = Vec::new();
    let (mut planned, mut done, mut failed) = (0, 0, 0);
    for group in groups {
        let mut s = ShardStatus {
            shard: group,
            planned: 0,
            done: 0,
            failed: 0,
            missing: 0,
            writers: 0,
            finished_writers: 0,
        };
        for r in records.iter().filter(|r| r.shard == group || group.is_none()) {
            s.writers += 1;
            s.finished_writers += usize::from(r.finished.is_some());
        }
        for case in cases.iter().filter(|c| group.is_none_or(|g| case_index[*c] % g.count == g.index)) {
            for output in 0..outputs {
                let key = ((*case).to_owned(), output);
                s.planned += 1;
                if is_done(&key) {
                    s.done += 1;
                } else if failed_keys.contains(&key) {
                    s.failed += 1;
                } else {
                    s.missing += 1;
                    if missing_outputs.len() < 1000 {
                        missing_outputs.push(key);
                    }
                }
            }
        }
        planned += s.planned;
        done += s.done;
        failed += s.failed;
        shards.push(s);
    }
    let missing = planned - done - failed;
    let other_runs =
        folder.identities().into_iter().filter(|i| *i != identity).map(|i| i.to_string()).collect::<Vec<_>>();
    Ok(Status {
        output_dir: output_dir.to_owned(),
        graph_hash: identity.graph_hash,
        seed: identity.seed,
        outputs_per_case: outputs,
        cases: cases.len(),
        planned,
        done,
        failed,
        missing,
        complete: done == planned && other_runs.is_empty(),
        shards,
        failures: outstanding.into_iter().cloned().collect(),
        missing_outputs,
        damaged: damaged.into_iter().collect(),
        other_runs,
    })
}

/// Whether a done output's files are there: at their recorded size, and with `verify` their
/// recorded CRC-32.
fn files_present(output_dir: &Path, line: &ManifestLine, verify: bool) -> bool {
    if verify {
        return line.files_intact(output_dir);
    }
    line.files.iter().enumerate().all(|(i, f)| {
        std::fs::metadata(output_dir.join(f))
            .is_ok_and(|m| m.is_file() && line.file_checks.get(i).is_none_or(|c| c.bytes == m.len()))
    })
}
