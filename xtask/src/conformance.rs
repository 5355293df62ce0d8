//! `cargo xtask conformance DIR`: every case of the scipy reference folder, through voxflow.
//!
//! `DIR/manifest.json` lists the cases: an input volume (resolved as `DIR/../../data/<input>`,
//! else `data/<input>` at the workspace root), an optional crop of it, the scipy/numpy call and
//! its parameters, and the expected output file. Each case runs through the matching voxflow
//! function and is compared: geometric cases within 1e-4 of the expected data range, order-0 and
//! label cases exactly. One line per case; the task fails if any case fails. Intensity cases
//! (percentile_clip, clip, normalize) go through [`intensity_case`].

use anyhow::{Context, Result, anyhow, bail};
use nalgebra::{Matrix3, Matrix4};
use ndarray::{Array3, ArrayView3, Axis, s};
use serde_json::Value as Json;
use std::path::{Path, PathBuf};
use voxflow_core::{BoundaryMode, Interpolation, Kind, LabelArray, LabelType, Volume, Voxels, with_labels};
use voxflow_geometry::resample::transform_labels;
use voxflow_geometry::{affine, crop, flip, resize, rotate, shift};

/// An intensity case (percentile_clip, clip, normalize) through voxflow-intensity's plain
/// functions, with the manifest's parameters; `None` for an op that is not an intensity op.
pub fn intensity_case(case: &Json, input: &Volume) -> Option<Result<Volume>> {
    let params = &case["params"];
    let op = case["op"].as_str()?;
    let run = |f: &dyn Fn(ArrayView3<'_, f32>) -> Result<Array3<f32>>| -> Result<Volume> {
        let frame = input.image()?.index_axis(Axis(3), 0);
        Ok(Volume::image3(f(frame)?, input.affine))
    };
    match op {
        "clip" => Some(run(&|x| {
            let [min, max] = [&params["min"], &params["max"]]
                .map(|v| v.as_f64().ok_or_else(|| anyhow!("clip needs numeric `min` and `max`")));
            Ok(voxflow_intensity::clip(x, min?, max?))
        })),
        "percentile_clip" => Some(run(&|x| {
            let [lower, upper] = [&params["lower"], &params["upper"]]
                .map(|v| v.as_f64().ok_or_else(|| anyhow!("percentile_clip needs `lower` and `upper`")));
            Ok(voxflow_intensity::percentile_clip(x, lower?, upper?, voxflow_intensity::Region::All)?)
        })),
        "normalize" => Some(run(&|x| {
            let params: voxflow_intensity::normalize::Normalize =
                serde_json::from_value(params.clone()).context("normalize parameters")?;
            Ok(voxflow_intensity::normalize(x, &params, None)?)
        })),
        _ => None,
    }
}

pub fn run(dir: &Path) -> Result<()> {
    let manifest = dir.join("manifest.json");
    if !manifest.exists() {
        bail!("{} not found: the scipy reference cases are missing", manifest.display());
    }
    let text =
        std::fs::read_to_string(&manifest).with_context(|| format!("reading {}", manifest.display()))?;
    let manifest: Json = serde_json::from_str(&text)?;
    let cases = manifest["cases"].as_array().ok_or_else(|| anyhow!("manifest.json has no `cases` list"))?;
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap_or("?");
        match run_case(dir, case) {
            Ok(Outcome::Compared { diff, tol }) if diff <= tol => {
                passed += 1;
                println!("{name:<34} max|diff| {diff:.3e}  (tol {tol:.1e})  PASS");
            }
            Ok(Outcome::Compared { diff, tol }) => {
                failed += 1;
                println!("{name:<34} max|diff| {diff:.3e}  (tol {tol:.1e})  FAIL");
            }
            Ok(Outcome::Skipped) => {
                skipped += 1;
                println!("{name:<34} SKIPPED (no voxflow counterpart for this op)");
            }
            Err(e) => {
                failed += 1;
                println!("{name:<34} FAIL: {e:#}");
            }
        }
    }
    println!("{passed} passed, {failed} failed, {skipped} skipped");
    if failed > 0 {
        bail!("{failed} conformance case(s) failed");
    }
    Ok(())
}

enum Outcome {
    Compared { diff: f64, tol: f64 },
    Skipped,
}

fn resolve_input(dir: &Path, name: &str) -> PathBuf {
    let beside = dir.join("../../data").join(name);
    if beside.exists() {
        return beside;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data").join(name)
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

fn mode_of(params: &Json) -> Result<BoundaryMode> {
    let m = params.get("mode").cloned().unwrap_or(Json::String("constant".into()));
    serde_json::from_value(m).context("`mode`")
}

fn order_of(params: &Json) -> Result<u8> {
    let o = params["order"].as_u64().ok_or_else(|| anyhow!("`order` missing"))?;
    u8::try_from(o).context("`order`")
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

/// The voxel matrix and output shape of a geometric case, for label maps (resampled nearest).
fn label_grid(op: &str, params: &Json, shape: [usize; 3]) -> Result<(Matrix4<f64>, [usize; 3])> {
    match op {
        "zoom" => {
            let z = numbers::<3>(&params["zoom"], "zoom")?;
            let out = resize::zoomed_shape(shape, z);
            Ok((resize::zoom_matrix(shape, out, params["grid_mode"].as_bool().unwrap_or(false)), out))
        }
        "affine_transform" => {
            let (m, offset) = matrix_offset(params)?;
            let mut h = m.to_homogeneous();
            for a in 0..3 {
                h[(a, 3)] = offset[a];
            }
            Ok((h, shape))
        }
        other => bail!("no label version of `{other}`"),
    }
}

fn matrix_offset(params: &Json) -> Result<(Matrix3<f64>, [f64; 3])> {
    let rows = params["matrix"].as_array().ok_or_else(|| anyhow!("`matrix` missing"))?;
    if rows.len() != 3 {
        bail!("`matrix` must be 3x3");
    }
    let r: Vec<[f64; 3]> = rows.iter().map(|row| numbers::<3>(row, "matrix")).collect::<Result<_>>()?;
    let offset =
        if params["offset"].is_null() { [0.0; 3] } else { numbers::<3>(&params["offset"], "offset")? };
    Ok((Matrix3::from_fn(|i, j| r[i][j]), offset))
}

/// Runs a geometric case on one image frame.
fn image_case(op: &str, params: &Json, x: ArrayView3<f32>) -> Result<Option<(Array3<f32>, bool)>> {
    let cval = params["cval"].as_f64().unwrap_or(0.0);
    Ok(Some(match op {
        "zoom" => {
            let order = order_of(params)?;
            let z = numbers::<3>(&params["zoom"], "zoom")?;
            let gm = params["grid_mode"].as_bool().unwrap_or(false);
            (resize::zoom(x, z, order, mode_of(params)?, cval, gm)?, order == 0)
        }
        "affine_transform" => {
            let order = order_of(params)?;
            let (m, offset) = matrix_offset(params)?;
            let s = x.shape();
            (
                affine::affine_transform(x, &m, offset, [s[0], s[1], s[2]], order, mode_of(params)?, cval)?,
                order == 0,
            )
        }
        "rotate" => {
            let order = order_of(params)?;
            let angle = params["angle"].as_f64().ok_or_else(|| anyhow!("`angle` missing"))?;
            let axes = numbers::<2>(&params["axes"], "axes")?;
            let reshape = params["reshape"].as_bool().unwrap_or(true);
            let axes = [axes[0] as usize, axes[1] as usize];
            (rotate::rotate(x, angle, axes, reshape, order, mode_of(params)?, cval)?, order == 0)
        }
        "shift" => {
            let order = order_of(params)?;
            let sh = numbers::<3>(&params["shift"], "shift")?;
            (shift::shift(x, sh, order, mode_of(params)?, cval)?, order == 0)
        }
        "flip" => {
            let axis = params["axis"].as_u64().ok_or_else(|| anyhow!("`axis` missing"))? as usize;
            (flip::flip(x, axis), true)
        }
        "crop" => {
            let start = numbers::<3>(&params["start"], "start")?.map(|v| v as usize);
            let size = numbers::<3>(&params["size"], "size")?.map(|v| v as usize);
            (crop::crop(x, start, size), true)
        }
        _ => return Ok(None),
    }))
}

fn run_case(dir: &Path, case: &Json) -> Result<Outcome> {
    let op = case["op"].as_str().ok_or_else(|| anyhow!("case without `op`"))?;
    let params = &case["params"];
    let input_name = case["input"].as_str().ok_or_else(|| anyhow!("case without `input`"))?;
    let output_name = case["output"].as_str().ok_or_else(|| anyhow!("case without `output`"))?;
    let input_path = resolve_input(dir, input_name);
    let is_label = input_name.contains("label");
    let kind = if is_label { Kind::Label } else { Kind::Image };
    let input = voxflow_io_nifti::read(&input_path, kind)
        .with_context(|| format!("reading {}", input_path.display()))?;
    let input = crop_volume(input, &case["input_crop"])?;
    let expected_path = dir.join(output_name);
    let expected = voxflow_io_nifti::read(&expected_path, kind)
        .with_context(|| format!("reading {}", expected_path.display()))?;

    if let Voxels::Label(labels) = &input.voxels {
        let (m, out_shape) = label_grid(op, params, input.shape3())?;
        let mode = mode_of(params)?;
        let got = with_labels!(labels, |a: T| {
            let fill = T::from_i128(params["cval"].as_f64().unwrap_or(0.0) as i128).unwrap_or_default();
            let out = transform_labels(
                a.index_axis(Axis(3), 0),
                &m,
                None,
                out_shape,
                Interpolation::Nearest,
                mode,
                fill,
            );
            out.mapv(|v| v.to_i128() as f64)
        });
        let want = label_values(expected.labels()?);
        return Ok(Outcome::Compared { diff: max_abs_diff(&got, &want)?, tol: 0.0 });
    }

    let frame = input.image()?.index_axis(Axis(3), 0);
    let Some((got, exact)) = image_case(op, params, frame)? else {
        return match intensity_case(case, &input) {
            None => Ok(Outcome::Skipped),
            Some(result) => {
                let out = result?;
                let got = out.image()?.index_axis(Axis(3), 0).mapv(f64::from);
                let want = expected.image()?.index_axis(Axis(3), 0).mapv(f64::from);
                // Intensity cases: within 1e-5 relative to the largest expected magnitude.
                let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs())).max(f64::MIN_POSITIVE);
                Ok(Outcome::Compared { diff: max_abs_diff(&got, &want)?, tol: 1e-5 * scale })
            }
        };
    };
    let want = expected.image()?.index_axis(Axis(3), 0).mapv(f64::from);
    let got = got.mapv(f64::from);
    let tol = if exact { 0.0 } else { 1e-4 * range(&want) };
    Ok(Outcome::Compared { diff: max_abs_diff(&got, &want)?, tol })
}

fn label_values(labels: &LabelArray) -> Array3<f64> {
    with_labels!(labels, |a: T| a.index_axis(Axis(3), 0).mapv(|v| v.to_i128() as f64))
}

fn range(a: &Array3<f64>) -> f64 {
    let (lo, hi) = a.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    if hi > lo { hi - lo } else { 1.0 }
}

fn max_abs_diff(got: &Array3<f64>, want: &Array3<f64>) -> Result<f64> {
    if got.shape() != want.shape() {
        bail!("shape {:?}, expected {:?}", got.shape(), want.shape());
    }
    Ok(got.iter().zip(want.iter()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max))
}
