//! Helpers shared by the intensity tests: sample data, running a node, compact summaries.
#![allow(dead_code, clippy::missing_panics_doc, clippy::must_use_candidate)]

use ndarray::{Array3, ArrayView3, Axis, ShapeBuilder};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{Affine, Deferred, Inputs, Kind, Op, OpError, RunContext, Value, Volume};

pub fn data(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/")).join(name)
}

/// A sample image as f32, as nibabel's `get_fdata()`.
pub fn sample(name: &str) -> Volume {
    voxflow_io_nifti::read(data(name), Kind::Image).expect("the sample data reads")
}

pub fn anatomy() -> Volume {
    sample("someones_anatomy.nii.gz")
}

/// The first frame of an image.
pub fn frame(v: &Volume) -> ArrayView3<'_, f32> {
    v.image().expect("an image").index_axis(Axis(3), 0)
}

/// The small synthetic volume of `gen_reference.py`: `((7i + 13j + 29k) % 17) - 8 + 0.25 i`.
pub fn synthetic(shape: [usize; 3]) -> Array3<f32> {
    Array3::from_shape_fn(shape.f(), |(i, j, k)| {
        ((7 * i + 13 * j + 29 * k) % 17) as f32 - 8.0 + 0.25 * i as f32
    })
}

pub fn image(data: Array3<f32>, spacing: f64) -> Volume {
    let mut affine = Affine::identity();
    for i in 0..3 {
        affine[(i, i)] = spacing;
    }
    Volume::image3(data, affine)
}

/// Runs a node with the given inputs, seeded as the runner would seed node `name`.
pub fn run(op: &dyn Op, inputs: Vec<(&str, Value)>) -> Result<Value, OpError> {
    let case_inputs = BTreeMap::new();
    let materialize = |_: &Deferred| -> Result<Volume, OpError> {
        Err(OpError::Input { port: "volume".into(), message: "no resampling in these tests".into() })
    };
    let mut ctx = RunContext {
        node: "node",
        case_id: "case",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 42, case_id: "case", output_index: 0, node: "node" }),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    op.validate()?;
    let inputs = Inputs(inputs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
    op.run(&mut ctx, inputs)
}

pub fn vol(v: Volume) -> Value {
    Value::Volume(Arc::new(v))
}

pub fn expect_volume(v: Value) -> Arc<Volume> {
    match v {
        Value::Volume(v) => v,
        other => panic!("expected a volume, got {:?}", other.kind()),
    }
}

/// Parses a node's params as a graph file would.
pub fn op(name: &str, params: serde_json::Value) -> Box<dyn Op> {
    // Links the crate's ops in (typetag registers at link time).
    voxflow_intensity::register();
    serde_json::from_value(json!({"op": name, "params": params})).expect("the op parses")
}

fn round_sig(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// A compact summary for snapshots: shape, dtypes, affine, rounded statistics and a checksum of
/// the voxels quantised to 1/64 (robust to last-bit differences of libm functions).
pub fn summary(v: &Volume) -> serde_json::Value {
    let a = v.image().expect("an image");
    let n = a.len() as f64;
    let (mut sum, mut sq, mut min, mut max) = (0.0f64, 0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    let mut hash = voxflow_core::hash::Fnv1a::default();
    let mut nonfinite = 0u64;
    for &x in &a.t() {
        if !x.is_finite() {
            nonfinite += 1;
            continue;
        }
        let x = f64::from(x);
        sum += x;
        sq += x * x;
        min = min.min(x);
        max = max.max(x);
        hash.write(&((x * 64.0).round() as i64).to_le_bytes());
    }
    let mean = sum / n;
    // Mean and std to 5 significant digits of the value range, so a mean that is ~0 by
    // construction (a z-score) does not snapshot its rounding noise.
    let unit = 1e-5 * min.abs().max(max.abs()).max(f64::MIN_POSITIVE);
    let coarse = |v: f64| round_sig((v / unit).round() * unit, 5);
    json!({
        "shape": v.shape4(),
        "dtype": v.dtype().to_string(),
        "stored_dtype": v.stored_dtype.to_string(),
        "affine": (0..3).map(|r| (0..4).map(|c| round_sig(v.affine[(r, c)], 6)).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "mean": coarse(mean),
        "std": coarse((sq / n - mean * mean).max(0.0).sqrt()),
        "min": round_sig(min, 5),
        "max": round_sig(max, 5),
        "nonfinite": nonfinite,
        "checksum": format!("{:016x}", hash.finish()),
    })
}

/// `|a - b| <= atol + rtol·|b|`, with a message naming the worst element.
pub fn assert_close(actual: &[f64], expected: &[f64], rtol: f64, atol: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= atol + rtol * e.abs() || (a.is_nan() && e.is_nan()),
            "{what}[{i}]: got {a}, expected {e} (rtol {rtol}, atol {atol})"
        );
    }
}

/// Values of a 3D array at voxel indices.
pub fn at(a: &ArrayView3<'_, f32>, idx: &[[usize; 3]]) -> Vec<f64> {
    idx.iter().map(|&[i, j, k]| f64::from(a[[i, j, k]])).collect()
}

pub const PROBES: [[usize; 3]; 6] =
    [[0, 0, 0], [28, 33, 28], [10, 50, 20], [56, 66, 55], [40, 12, 30], [20, 30, 40]];

/// Sum and sum of absolute values, in f64.
pub fn sums(a: &ArrayView3<'_, f32>) -> (f64, f64) {
    a.iter().fold((0.0, 0.0), |(s, sa), &v| (s + f64::from(v), sa + f64::from(v).abs()))
}

/// Runs `f` on a rayon pool with `threads` threads.
pub fn with_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(f)
}

/// A u8 label map from an image by thresholds: label `i + 1` where `x > thresholds[i]` (last wins).
pub fn label_from(v: &Volume, thresholds: &[f32]) -> Volume {
    let labels = frame(v).mapv(|x| thresholds.iter().rposition(|&t| x > t).map_or(0u8, |i| i as u8 + 1));
    Volume::label3(labels, v.affine)
}
