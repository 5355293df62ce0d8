//! `cargo xtask conformance DIR...`: every case of a reference folder, run as a graph.
//!
//! What users run is what is checked: each case becomes a graph (`load → op(s) → save`) run by
//! the dataset runner (`voxflow_graph_runner::run::run`, what `graphrun` calls), and the file it
//! writes is read back and compared with the reference: data within 1e-4 of the expected data
//! range (exactly for order 0, label maps, flips, crops and pads), and the affine within 1e-6 mm.
//!
//! Two kinds of folder, told apart per case in `DIR/manifest.json`:
//!
//! * **Graph cases** (`scripts/graph_reference/make_graph_reference.py`): a case carries its
//!   `graph`, its `input` and `expected` files (relative to `DIR`), its `kind` and whether the
//!   comparison is `exact`. Oblique and anisotropic volumes, 4D series, fused chains.
//! * **scipy voxel cases** (`../shared/reference`): a scipy/numpy call on a bare array (`op`,
//!   `params`). The input is written with an identity affine (1 mm voxels on the world axes),
//!   where a world-space op *is* the voxel-space call, and the call is translated into the op
//!   that claims to match it ([`scipy_graph`]).

use anyhow::{Context, Result, anyhow, bail};
use nalgebra::Matrix4;
use ndarray::{Array4, s};
use serde_json::{Value as Json, json};
use std::path::{Path, PathBuf};
use voxflow_core::{Affine, Kind, LabelArray, LabelType, Volume, Voxels, with_labels};
use voxflow_graph_runner::{Graph, RunOptions, dataset::Case};

pub fn run(dirs: &[PathBuf]) -> Result<()> {
    voxflow_graph_runner::register_all();
    let scratch = std::env::temp_dir().join(format!("voxflow-conformance-{}", std::process::id()));
    let (mut passed, mut failed) = (0, 0);
    for dir in dirs {
        let manifest_path = dir.join("manifest.json");
        if !manifest_path.exists() {
            bail!("{} not found: the reference cases are missing", manifest_path.display());
        }
        let text = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest: Json = serde_json::from_str(&text)?;
        let cases = manifest["cases"]
            .as_array()
            .ok_or_else(|| anyhow!("{} has no `cases` list", manifest_path.display()))?;
        println!(
            "{} ({} cases, {})",
            dir.display(),
            cases.len(),
            manifest["generator"].as_str().unwrap_or("?")
        );
        for case in cases {
            let name = case["name"].as_str().unwrap_or("?");
            let work = scratch.join(name);
            let outcome = run_case(dir, case, &work);
            let _ = std::fs::remove_dir_all(&work);
            match outcome {
                Ok(c) if c.passes() => {
                    passed += 1;
                    println!("  {name:<44} {c}  PASS");
                }
                Ok(c) => {
                    failed += 1;
                    println!("  {name:<44} {c}  FAIL");
                }
                Err(e) => {
                    failed += 1;
                    println!("  {name:<44} FAIL: {e:#}");
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    println!("{passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} conformance case(s) failed");
    }
    Ok(())
}

/// A case's comparison: the largest voxel and affine differences and their tolerances.
struct Compared {
    diff: f64,
    tol: f64,
    /// `None` when the reference has no affine (scipy's voxel cases).
    affine_diff: Option<f64>,
    /// Voxels on the grid's outer faces where the reference holds the fill value and voxflow a
    /// sample: scipy's strict edge, where rounding put the coordinate just outside (the one
    /// documented difference, `EDGE_TOLERANCE` in geometry's `resample/boundary.rs`).
    strict_edge: usize,
}

/// How far an affine may be from the reference's, in mm (NIfTI stores it as float32 in the
/// sform: 1e-6 relative of a 100 mm origin is 1e-4).
const AFFINE_TOL: f64 = 1e-4;

impl Compared {
    fn passes(&self) -> bool {
        self.diff <= self.tol && self.affine_diff.is_none_or(|d| d <= AFFINE_TOL)
    }
}

impl std::fmt::Display for Compared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "max|diff| {:.3e} (tol {:.1e})", self.diff, self.tol)?;
        if let Some(d) = self.affine_diff {
            write!(f, "  affine {d:.1e}")?;
        }
        if self.strict_edge > 0 {
            write!(f, "  ({} voxels of scipy's strict edge)", self.strict_edge)?;
        }
        Ok(())
    }
}

fn run_case(dir: &Path, case: &Json, work: &Path) -> Result<Compared> {
    let graph_kind = case.get("graph").is_some();
    let (graph, input, kind, exact, expected) =
        if graph_kind { graph_case(dir, case)? } else { scipy_case(dir, case, work)? };
    // Further inputs of a graph case (e.g. the `like` grid of `resample_to`), by input name.
    let extra: Vec<(String, PathBuf)> = case["inputs"]
        .as_object()
        .map(|inputs| {
            inputs.iter().filter_map(|(name, path)| Some((name.clone(), dir.join(path.as_str()?)))).collect()
        })
        .unwrap_or_default();
    let got = run_graph(&graph, &input, &extra, kind, work)?;
    let want =
        voxflow_io_nifti::read(&expected, kind).with_context(|| format!("reading {}", expected.display()))?;
    // scipy's voxel cases: the reference has no meaningful affine, and its fill value on an
    // outer face may be scipy's strict edge (fill 0 in every such case).
    let cval = case["params"]["cval"].as_f64().unwrap_or(0.0);
    compare(&got, &want, exact, graph_kind, (!graph_kind).then_some(cval))
}

type Prepared = (Json, PathBuf, Kind, bool, PathBuf);

fn kind_of(case: &Json) -> Result<Kind> {
    match case["kind"].as_str().unwrap_or("image") {
        "image" => Ok(Kind::Image),
        "label" => Ok(Kind::Label),
        other => bail!("unknown kind `{other}`"),
    }
}

fn graph_case(dir: &Path, case: &Json) -> Result<Prepared> {
    let field = |k: &str| case[k].as_str().ok_or_else(|| anyhow!("case without `{k}`"));
    Ok((
        case["graph"].clone(),
        dir.join(field("input")?),
        kind_of(case)?,
        case["exact"].as_bool().unwrap_or(false),
        dir.join(field("expected")?),
    ))
}

/// Runs `graph` on one case whose input `image` is `input` (and `extra` inputs by name);
/// returns what its one `save` wrote.
fn run_graph(
    graph: &Json,
    input: &Path,
    extra: &[(String, PathBuf)],
    kind: Kind,
    work: &Path,
) -> Result<Volume> {
    let graph = Graph::from_json(&graph.to_string()).context("the case's graph")?;
    let saves: Vec<String> = graph.planned_files("case", 0);
    let [file] = saves.as_slice() else { bail!("the case's graph must have exactly one save node") };
    let out_dir = work.join("out");
    let mut inputs: std::collections::BTreeMap<String, PathBuf> = extra.iter().cloned().collect();
    inputs.insert("image".to_owned(), input.to_path_buf());
    let case = Case { id: "case".into(), inputs };
    let mut opts = RunOptions::new(&out_dir);
    opts.overwrite = true;
    opts.outputs = Some(1);
    let summary = voxflow_graph_runner::run::run(&graph, &[case], &opts)?;
    if let Some(f) = summary.failures.first() {
        bail!("the graph failed: {f}");
    }
    let path = out_dir.join(file);
    voxflow_io_nifti::read(&path, kind).with_context(|| format!("reading {}", path.display()))
}

fn compare(
    got: &Volume,
    want: &Volume,
    exact: bool,
    with_affine: bool,
    edge_fill: Option<f64>,
) -> Result<Compared> {
    let (g, w) = (values(got), values(want));
    if g.shape() != w.shape() {
        bail!("shape {:?}, expected {:?}", g.shape(), w.shape());
    }
    let shape = [w.shape()[0], w.shape()[1], w.shape()[2]];
    let on_face = |i: [usize; 3]| (0..3).any(|a| i[a] == 0 || i[a] + 1 == shape[a]);
    let mut strict_edge = 0;
    let mut diff = 0.0f64;
    for ((i, &a), &b) in g.indexed_iter().zip(&w) {
        if a == b {
            continue;
        }
        if edge_fill == Some(b) && on_face([i.0, i.1, i.2]) {
            strict_edge += 1;
            continue;
        }
        diff = diff.max((a - b).abs());
    }
    let (lo, hi) = w.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let range = if hi > lo { hi - lo } else { 1.0 };
    let exact = exact || got.kind() == Kind::Label;
    let tol = if exact { 0.0 } else { 1e-4 * range };
    let affine_diff = with_affine.then(|| (got.affine - want.affine).abs().max());
    Ok(Compared { diff, tol, affine_diff, strict_edge })
}

fn values(v: &Volume) -> Array4<f64> {
    match &v.voxels {
        Voxels::Image(a) => a.mapv(f64::from),
        Voxels::Label(l) => label_values(l),
    }
}

fn label_values(labels: &LabelArray) -> Array4<f64> {
    with_labels!(labels, |a: T| a.mapv(|v| v.to_i128() as f64))
}

// ---- scipy voxel cases -------------------------------------------------------------------

fn resolve_input(dir: &Path, name: &str) -> PathBuf {
    let beside = dir.join("../../data").join(name);
    if beside.exists() {
        return beside;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data").join(name)
}

/// Writes the case's input (cropped as the case says) with an identity affine, and translates
/// its scipy call into a graph.
fn scipy_case(dir: &Path, case: &Json, work: &Path) -> Result<Prepared> {
    let op = case["op"].as_str().ok_or_else(|| anyhow!("case without `op`"))?;
    let input_name = case["input"].as_str().ok_or_else(|| anyhow!("case without `input`"))?;
    let output_name = case["output"].as_str().ok_or_else(|| anyhow!("case without `output`"))?;
    let kind = if input_name.contains("label") { Kind::Label } else { Kind::Image };
    let path = resolve_input(dir, input_name);
    let volume =
        voxflow_io_nifti::read(&path, kind).with_context(|| format!("reading {}", path.display()))?;
    let volume = first_frame(crop_volume(volume, &case["input_crop"])?);
    let shape = volume.shape3();
    let on_identity = Volume { affine: Affine::identity(), ..volume };
    std::fs::create_dir_all(work)?;
    let input = work.join("input.nii");
    voxflow_io_nifti::write(&input, &on_identity, &voxflow_io_nifti::WriteOptions::default())?;
    let (node, exact) = scipy_graph(op, &case["params"], shape)?;
    let graph = json!({"nodes": [
        {"name": "in", "op": "load", "params": {"input": "image", "kind": if kind == Kind::Label { "label" } else { "image" }}},
        {"name": "op", "op": node["op"], "params": node["params"], "inputs": {"volume": "in"}},
        {"name": "out", "op": "save", "params": {"path": "out.nii"}, "inputs": {"volume": "op"}},
    ]});
    Ok((graph, input, kind, exact, dir.join(output_name)))
}

fn first_frame(volume: Volume) -> Volume {
    let voxels = match &volume.voxels {
        Voxels::Image(a) => Voxels::Image(a.slice(s![.., .., .., 0..1]).to_owned()),
        Voxels::Label(l) => {
            Voxels::Label(voxflow_core::map_labels!(l, |a: T| a.slice(s![.., .., .., 0..1]).to_owned()))
        }
    };
    Volume { voxels, ..volume }
}

fn crop_volume(volume: Volume, crop: &Json) -> Result<Volume> {
    if crop.is_null() {
        return Ok(volume);
    }
    let r: Vec<[f64; 2]> = crop
        .as_array()
        .ok_or_else(|| anyhow!("`input_crop` is not a list"))?
        .iter()
        .map(|a| numbers::<2>(a, "input_crop"))
        .collect::<Result<_>>()?;
    if r.len() != 3 {
        bail!("`input_crop` needs three [start, stop] pairs");
    }
    let [x, y, z] = [0, 1, 2].map(|a| r[a][0] as usize..r[a][1] as usize);
    let voxels = match &volume.voxels {
        Voxels::Image(a) => Voxels::Image(a.slice(s![x, y, z, ..]).to_owned()),
        Voxels::Label(l) => {
            Voxels::Label(voxflow_core::map_labels!(l, |a: T| a.slice(s![x, y, z, ..]).to_owned()))
        }
    };
    Ok(Volume { voxels, ..volume })
}

fn numbers<const N: usize>(v: &Json, what: &str) -> Result<[f64; N]> {
    let list = v.as_array().ok_or_else(|| anyhow!("`{what}` is not a list"))?;
    if list.len() != N {
        bail!("`{what}` has {} entries, expected {N}", list.len());
    }
    let mut out = [0.0; N];
    for (o, x) in out.iter_mut().zip(list) {
        *o = x.as_f64().ok_or_else(|| anyhow!("`{what}` has a non-number"))?;
    }
    Ok(out)
}

/// The resampling parameters of a scipy call (`order`, `mode`, `cval`) as the op's.
fn resampling(params: &Json) -> Result<(serde_json::Map<String, Json>, bool)> {
    let order = params["order"].as_u64().ok_or_else(|| anyhow!("`order` missing"))?;
    let interpolation = match order {
        0 => "nearest",
        1 => "linear",
        3 => "cubic",
        other => bail!("order {other} has no voxflow counterpart"),
    };
    let mut m = serde_json::Map::new();
    m.insert("interpolation".into(), json!(interpolation));
    m.insert("mode".into(), params.get("mode").cloned().unwrap_or(json!("constant")));
    let cval = params["cval"].as_f64().unwrap_or(0.0);
    m.insert("fill".into(), json!(cval));
    m.insert("label_fill".into(), json!(cval as i64));
    Ok((m, order == 0))
}

/// The op that claims to match a scipy/numpy call, on a volume with an identity affine:
/// `({"op", "params"}, exact)`.
fn scipy_graph(op: &str, params: &Json, shape: [usize; 3]) -> Result<(Json, bool)> {
    let with = |mut m: serde_json::Map<String, Json>, extra: Json| {
        if let Json::Object(e) = extra {
            m.extend(e);
        }
        Json::Object(m)
    };
    Ok(match op {
        "zoom" => {
            let (r, exact) = resampling(params)?;
            let factor = numbers::<3>(&params["zoom"], "zoom")?;
            let grid_mode = params["grid_mode"].as_bool().unwrap_or(false);
            (
                json!({"op": "resize", "params": with(r, json!({"factor": factor, "grid_mode": grid_mode}))}),
                exact,
            )
        }
        "affine_transform" => {
            // scipy's `matrix`/`offset` pull output voxels back onto input voxels (H). The
            // `affine` op takes the forward motion W about the centre c: H = T(c)·W⁻¹·T(−c).
            let (r, exact) = resampling(params)?;
            let rows = params["matrix"].as_array().ok_or_else(|| anyhow!("`matrix` missing"))?;
            let mut h = Matrix4::identity();
            for (i, row) in rows.iter().enumerate().take(3) {
                let row = numbers::<3>(row, "matrix")?;
                for j in 0..3 {
                    h[(i, j)] = row[j];
                }
            }
            let offset = if params["offset"].is_null() {
                [0.0; 3]
            } else {
                numbers::<3>(&params["offset"], "offset")?
            };
            for a in 0..3 {
                h[(a, 3)] = offset[a];
            }
            let c = nalgebra::Vector3::from_fn(|a, _| (shape[a] as f64 - 1.0) / 2.0);
            let w = (Matrix4::new_translation(&-c) * h * Matrix4::new_translation(&c))
                .try_inverse()
                .ok_or_else(|| anyhow!("singular matrix"))?;
            let matrix: Vec<Vec<f64>> = (0..4).map(|i| (0..4).map(|j| w[(i, j)]).collect()).collect();
            (json!({"op": "affine", "params": with(r, json!({"matrix": matrix}))}), exact)
        }
        "rotate" => {
            let (r, exact) = resampling(params)?;
            let angle = params["angle"].as_f64().ok_or_else(|| anyhow!("`angle` missing"))?;
            let axes = numbers::<2>(&params["axes"], "axes")?;
            let reshape = params["reshape"].as_bool().unwrap_or(true);
            (
                json!({"op": "rotate", "params": with(r, json!({"angle": angle, "axes": [axes[0] as usize, axes[1] as usize], "reshape": reshape}))}),
                exact,
            )
        }
        "shift" => {
            let (r, exact) = resampling(params)?;
            let offset = numbers::<3>(&params["shift"], "shift")?;
            (json!({"op": "shift", "params": with(r, json!({"offset": offset, "unit": "voxel"}))}), exact)
        }
        "flip" => (json!({"op": "flip", "params": {"axis": params["axis"]}}), true),
        "crop" => (json!({"op": "crop", "params": {"start": params["start"], "size": params["size"]}}), true),
        "clip" => (json!({"op": "clip", "params": {"min": params["min"], "max": params["max"]}}), false),
        "percentile_clip" => (
            json!({"op": "percentile_clip", "params": {"lower": params["lower"], "upper": params["upper"]}}),
            false,
        ),
        "normalize" => (json!({"op": "normalize", "params": params}), false),
        other => bail!("no voxflow op claims to match `{other}`"),
    })
}
