//! Where cases come from, and how a dataset is split into shards.
//!
//! A case is an id plus named input files; `load` nodes read inputs by name. Sources:
//!
//! * **nnU-Net** (`--nnunet DIR`): `imagesTr/<case>_0000.nii.gz` is input `image`,
//!   `<case>_0001` is `image_0001`, ...; `labelsTr/<case>.nii.gz` is `label`.
//! * **globs** (`--images GLOB --labels GLOB`): the case id is the image's file stem (name
//!   without `.nii`/`.nii.gz`). A label is paired with the image whose case id equals its stem,
//!   or whose stem it contains (`case1_seg` pairs with `case1`, the longest match wins), or
//!   whose case id is the label's stem plus `_...` (`case1` pairs with image `case1_0000`).
//!   Every image must find a label.
//! * **list** (`--list cases.csv|cases.json`): CSV with a `case` column and one column per
//!   input; JSON an array of objects with `case` and one key per input. Relative paths are
//!   relative to the list file.
//! * **single** (`--input NAME=PATH`, repeatable): one case, whose id is the stem of `image`
//!   (or of the first input).
//! * the graph's own `dataset` (paths relative to the graph file).
//!
//! Cases are sorted by id; shard K of N takes the cases whose index in that order is K mod N.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One case: an id and its input files by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Case {
    pub id: String,
    pub inputs: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Error)]
pub enum DatasetError {
    #[error("{path}: {message}")]
    Source { path: PathBuf, message: String },
    #[error("no cases found in {0}")]
    NoCases(String),
    #[error("case id `{0}` appears more than once")]
    DuplicateCase(String),
    #[error("{0}")]
    Usage(String),
    /// A case id that cannot name files under the output folder (see [`crate::paths`]).
    #[error("{origin}: case id `{id}` cannot be used: {reason}")]
    CaseId { origin: String, id: String, reason: &'static str },
}

/// Checks a case id where it is read; `origin` says where it came from (a file, a list row).
pub fn check_case_id(id: &str, origin: impl FnOnce() -> String) -> Result<(), DatasetError> {
    match crate::paths::case_id_problem(id) {
        None => Ok(()),
        Some(reason) => {
            Err(DatasetError::CaseId { origin: origin(), id: id.escape_debug().to_string(), reason })
        }
    }
}

fn source_err(path: &Path, message: impl std::fmt::Display) -> DatasetError {
    DatasetError::Source { path: path.to_path_buf(), message: message.to_string() }
}

/// The file name without `.nii.gz` / `.nii`.
#[must_use]
pub fn stem(path: &Path) -> String {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name.strip_suffix(".nii.gz").or_else(|| name.strip_suffix(".nii")).unwrap_or(&name).to_owned()
}

fn finish(mut cases: Vec<Case>, what: &str) -> Result<Vec<Case>, DatasetError> {
    // Case ids name output files: checked here, where every source ends, naming the case's
    // first input file (or the source when it has none).
    for case in &cases {
        check_case_id(&case.id, || {
            case.inputs.values().next().map_or_else(|| what.to_owned(), |p| p.display().to_string())
        })?;
    }
    // Absolute paths, so a manifest line can be replayed from anywhere.
    for case in &mut cases {
        for path in case.inputs.values_mut() {
            if let Ok(abs) = std::fs::canonicalize(&*path).or_else(|_| std::path::absolute(&*path)) {
                *path = abs;
            }
        }
    }
    if cases.is_empty() {
        return Err(DatasetError::NoCases(what.to_owned()));
    }
    cases.sort();
    for pair in cases.windows(2) {
        if pair[0].id == pair[1].id {
            return Err(DatasetError::DuplicateCase(pair[0].id.clone()));
        }
    }
    Ok(cases)
}

/// An nnU-Net raw dataset folder.
pub fn nnunet(dir: &Path) -> Result<Vec<Case>, DatasetError> {
    let images = dir.join("imagesTr");
    let entries = std::fs::read_dir(&images).map_err(|e| source_err(&images, e))?;
    let mut by_case: BTreeMap<String, BTreeMap<String, PathBuf>> = BTreeMap::new();
    for entry in entries {
        let path = entry.map_err(|e| source_err(&images, e))?.path();
        let s = stem(&path);
        if s.len() == stem_len_of(&path) {
            continue; // not a NIfTI file
        }
        let Some((case, channel)) = s.rsplit_once('_') else {
            return Err(source_err(&path, "expected <case>_<channel>.nii.gz (e.g. case1_0000.nii.gz)"));
        };
        if channel.len() != 4 || !channel.bytes().all(|b| b.is_ascii_digit()) {
            return Err(source_err(&path, "expected a 4-digit channel suffix (e.g. case1_0000.nii.gz)"));
        }
        let name = if channel == "0000" { "image".to_owned() } else { format!("image_{channel}") };
        by_case.entry(case.to_owned()).or_default().insert(name, path);
    }
    let labels = dir.join("labelsTr");
    let mut cases = Vec::new();
    for (id, mut inputs) in by_case {
        for ext in [".nii.gz", ".nii"] {
            let label = labels.join(format!("{id}{ext}"));
            if label.is_file() {
                inputs.insert("label".to_owned(), label);
                break;
            }
        }
        cases.push(Case { id, inputs });
    }
    finish(cases, &images.display().to_string())
}

/// Length of the file name when it is not a NIfTI file (so `stem` removed nothing).
fn stem_len_of(path: &Path) -> usize {
    path.file_name().map_or(0, |n| n.to_string_lossy().len())
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, DatasetError> {
    let paths = glob::glob(pattern).map_err(|e| DatasetError::Usage(format!("bad glob `{pattern}`: {e}")))?;
    let mut files = Vec::new();
    for p in paths {
        let p = p.map_err(|e| DatasetError::Usage(format!("glob `{pattern}`: {e}")))?;
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Images (and optionally labels) by glob, paired by case id (see the module doc).
pub fn globs(images: &str, labels: Option<&str>) -> Result<Vec<Case>, DatasetError> {
    let image_files = glob_files(images)?;
    let mut cases: Vec<Case> = image_files
        .into_iter()
        .map(|p| Case { id: stem(&p), inputs: BTreeMap::from([("image".to_owned(), p)]) })
        .collect();
    if let Some(labels) = labels {
        for label in glob_files(labels)? {
            let s = stem(&label);
            let best = cases
                .iter_mut()
                .filter(|c| s == c.id || s.contains(c.id.as_str()) || c.id.starts_with(&format!("{s}_")))
                .max_by_key(|c| (s == c.id, c.id.len()));
            match best {
                Some(case) => {
                    if let Some(old) = case.inputs.insert("label".to_owned(), label.clone()) {
                        return Err(source_err(
                            &label,
                            format!("case `{}` already has label {}", case.id, old.display()),
                        ));
                    }
                }
                None => return Err(source_err(&label, "no image has a case id matching this label's name")),
            }
        }
        if let Some(c) = cases.iter().find(|c| !c.inputs.contains_key("label")) {
            return Err(source_err(&c.inputs["image"], format!("no label matches case `{}`", c.id)));
        }
    }
    finish(cases, images)
}

/// A CSV or JSON list of cases.
pub fn list(path: &Path) -> Result<Vec<Case>, DatasetError> {
    let base = path.parent().unwrap_or(Path::new("."));
    let rows: Vec<BTreeMap<String, String>> = if path.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(path).map_err(|e| source_err(path, e))?;
        serde_json::from_str(&text).map_err(|e| source_err(path, e))?
    } else {
        let mut reader = csv::Reader::from_path(path).map_err(|e| source_err(path, e))?;
        reader.deserialize().collect::<Result<_, _>>().map_err(|e| source_err(path, e))?
    };
    let mut cases = Vec::new();
    for (i, mut row) in rows.into_iter().enumerate() {
        let Some(id) = row.remove("case") else {
            return Err(source_err(path, format!("row {} has no `case`", i + 1)));
        };
        check_case_id(&id, || format!("{}, row {}", path.display(), i + 1))?;
        let inputs = row.into_iter().map(|(k, v)| (k, base.join(v))).collect();
        cases.push(Case { id, inputs });
    }
    finish(cases, &path.display().to_string())
}

/// One case from `NAME=PATH` pairs (or a graph's default dataset), relative to `base`.
pub fn single(
    case: Option<&str>,
    inputs: &BTreeMap<String, String>,
    base: &Path,
) -> Result<Vec<Case>, DatasetError> {
    let inputs: BTreeMap<String, PathBuf> = inputs.iter().map(|(k, v)| (k.clone(), base.join(v))).collect();
    let id = match case {
        Some(id) => {
            check_case_id(id, || "--case".to_owned())?;
            id.to_owned()
        }
        None => inputs
            .get("image")
            .or_else(|| inputs.values().next())
            .map(|p| stem(p))
            .ok_or_else(|| DatasetError::Usage("no inputs given".into()))?,
    };
    finish(vec![Case { id, inputs }], "the inputs given")
}

/// Parses `NAME=PATH`.
pub fn parse_input(arg: &str) -> Result<(String, String), DatasetError> {
    arg.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| DatasetError::Usage(format!("--input expects NAME=PATH, got `{arg}`")))
}

/// A shard: this process takes cases whose sorted index is `index` mod `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// Parses `K/N` (0-based K).
    pub fn parse(text: &str) -> Result<Shard, DatasetError> {
        let bad = || {
            DatasetError::Usage(format!("--shard expects K/N (0 <= K < N), slurm, k8s or auto, got `{text}`"))
        };
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let shard = Shard {
            index: k.trim().parse().map_err(|_| bad())?,
            count: n.trim().parse().map_err(|_| bad())?,
        };
        if shard.count == 0 || shard.index >= shard.count {
            return Err(bad());
        }
        Ok(shard)
    }

    /// This process's shard as asked (`--shard`, or `VOXFLOW_SHARD` in the environment):
    /// `K/N`, `slurm`, `k8s` or `auto`, with the shard count from `--shard-count` /
    /// `VOXFLOW_SHARD_COUNT` where needed. Returns the shard and where it came from, or `None`
    /// when not sharding. The environment is read through `get` only, and only when asked:
    ///
    /// * `slurm`: the task id `SLURM_ARRAY_TASK_ID`. With a shard count N, the task id is the
    ///   shard index (0 <= id < N), so any array works: stepped, listed, throttled, or one
    ///   index resubmitted (`--array=2`). Without one, the array must be a regular range
    ///   (`SLURM_ARRAY_TASK_MIN`/`MAX`/`STEP`/`COUNT` agree): shard = (id - min) / step of
    ///   COUNT; a listed array, or a one-task array whose id is not 0 (a resubmitted index),
    ///   is an error asking for the count.
    /// * `k8s`: `JOB_COMPLETION_INDEX` of N (the count is required: Kubernetes does not export
    ///   `completions`).
    /// * `auto`: `slurm` in a Slurm array, else `k8s` in an Indexed Job, else no sharding.
    pub fn resolve(
        spec: Option<&str>,
        count: Option<usize>,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<(Shard, String)>, DatasetError> {
        let num = |name: &str| -> Result<Option<usize>, DatasetError> {
            get(name)
                .filter(|v| !v.trim().is_empty())
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| DatasetError::Usage(format!("{name}={v} is not a number")))
                })
                .transpose()
        };
        let count = match (count, num("VOXFLOW_SHARD_COUNT")?) {
            (Some(a), Some(b)) if a != b => {
                return Err(DatasetError::Usage(format!(
                    "--shard-count {a} but VOXFLOW_SHARD_COUNT={b}: give one shard count"
                )));
            }
            (Some(0), _) | (_, Some(0)) => {
                return Err(DatasetError::Usage("the shard count must be at least 1".into()));
            }
            (a, b) => a.or(b),
        };
        let env_spec = get("VOXFLOW_SHARD").filter(|v| !v.trim().is_empty());
        let Some(spec) = spec.map(str::to_owned).or(env_spec) else {
            if count.is_some() {
                return Err(DatasetError::Usage(
                    "a shard count was given without --shard (slurm, k8s, auto or K/N)".into(),
                ));
            }
            return Ok(None);
        };
        let spec = spec.trim().to_ascii_lowercase();
        let in_slurm = get("SLURM_ARRAY_TASK_ID").is_some();
        let in_k8s = get("JOB_COMPLETION_INDEX").is_some();
        match spec.as_str() {
            "slurm" => slurm(&num, count).map(Some),
            "k8s" | "kubernetes" => k8s(&num, count).map(Some),
            "auto" if in_slurm => slurm(&num, count).map(Some),
            "auto" if in_k8s => k8s(&num, count).map(Some),
            "auto" => Ok(None),
            _ => {
                let shard = Shard::parse(&spec)?;
                if count.is_some_and(|n| n != shard.count) {
                    return Err(DatasetError::Usage(format!(
                        "--shard {spec} but a shard count of {}: they must agree",
                        count.unwrap_or_default()
                    )));
                }
                Ok(Some((shard, "--shard".to_owned())))
            }
        }
    }

    /// The cases of this shard (cases must be sorted).
    #[must_use]
    pub fn select(self, cases: Vec<Case>) -> Vec<Case> {
        cases.into_iter().enumerate().filter(|(i, _)| i % self.count == self.index).map(|(_, c)| c).collect()
    }
}

type EnvNumber<'a> = dyn Fn(&str) -> Result<Option<usize>, DatasetError> + 'a;

/// See [`Shard::resolve`].
fn slurm(num: &EnvNumber<'_>, count: Option<usize>) -> Result<(Shard, String), DatasetError> {
    let id = num("SLURM_ARRAY_TASK_ID")?.ok_or_else(|| {
        DatasetError::Usage(
            "--shard slurm, but SLURM_ARRAY_TASK_ID is not set (not a Slurm job array task)".into(),
        )
    })?;
    if let Some(n) = count {
        if id >= n {
            return Err(DatasetError::Usage(format!(
                "Slurm array task {id} with a shard count of {n}: with a shard count, task ids are shard \
                 indices 0..{}",
                n - 1
            )));
        }
        return Ok((Shard { index: id, count: n }, format!("Slurm array task {id}")));
    }
    let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
    let tasks = num("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
        DatasetError::Usage(
            "SLURM_ARRAY_TASK_ID is set without SLURM_ARRAY_TASK_COUNT: give --shard-count".into(),
        )
    })?;
    let max = num("SLURM_ARRAY_TASK_MAX")?.unwrap_or(min + tasks.saturating_sub(1));
    let step = num("SLURM_ARRAY_TASK_STEP")?.unwrap_or(1).max(1);
    let regular = id >= min && (id - min) % step == 0 && max >= min && (max - min) / step + 1 == tasks;
    if !regular {
        return Err(DatasetError::Usage(format!(
            "Slurm array task {id} of an array that is not a regular range (ids {min}..{max}, step {step}, \
             {tasks} tasks): give --shard-count N (or VOXFLOW_SHARD_COUNT); task ids are then shard indices"
        )));
    }
    if tasks == 1 && id != 0 {
        return Err(DatasetError::Usage(format!(
            "a one-task Slurm array with task id {id} looks like one shard resubmitted: give the shard \
             count of the whole array with --shard-count N (or VOXFLOW_SHARD_COUNT)"
        )));
    }
    let index = (id - min) / step;
    Ok((Shard { index, count: tasks }, format!("Slurm array task {id}")))
}

/// See [`Shard::resolve`].
fn k8s(num: &EnvNumber<'_>, count: Option<usize>) -> Result<(Shard, String), DatasetError> {
    let id = num("JOB_COMPLETION_INDEX")?.ok_or_else(|| {
        DatasetError::Usage(
            "--shard k8s, but JOB_COMPLETION_INDEX is not set (not a Kubernetes Indexed Job)".into(),
        )
    })?;
    let n = count.ok_or_else(|| {
        DatasetError::Usage(
            "--shard k8s needs the shard count (the Job's `completions`) in --shard-count or VOXFLOW_SHARD_COUNT"
                .into(),
        )
    })?;
    if id >= n {
        return Err(DatasetError::Usage(format!(
            "JOB_COMPLETION_INDEX={id} with a shard count of {n}: the Job's completions and the shard count differ"
        )));
    }
    Ok((Shard { index: id, count: n }, format!("Kubernetes completion index {id}")))
}
