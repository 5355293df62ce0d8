//! Benchmarks of the intensity area (see `super::Row`), on a 256^3 f32 head-like phantom
//! (Fortran order, as read from NIfTI). `xtask/python/intensity.py` times numpy/scipy on the
//! same phantom under the same row names.
//!
//! Two paths: the plain functions, which return a new 64 MB array (writing it is part of the
//! time; it is advised to use huge pages, without which its 16k page faults alone took 13-28
//! ms here), and the graph nodes, which work in place on a volume they own, as in `graphrun`
//! (rows "(node, in place)"; a fresh copy of the input is made outside the timed region).

use super::{Row, median_ms, median_ms_with};
use ndarray::{Array3, ShapeBuilder};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{Affine, Deferred, Inputs, Op, OpError, RunContext, Value, Volume};
use voxflow_intensity::gamma::Gamma;
use voxflow_intensity::normalize::{Normalize, NormalizeMode};
use voxflow_intensity::{Over, Region};

const N: usize = 256;
const RUNS: usize = 7;

/// A noisy ellipsoid of tissue in zero air (the same formula as `intensity.py`).
fn phantom(n: usize) -> Array3<f32> {
    let c = (n as f32 - 1.0) / 2.0;
    Array3::from_shape_fn((n, n, n).f(), |(i, j, k)| {
        let (x, y, z) = ((i as f32 - c) / c, (j as f32 - c) / (0.9 * c), (k as f32 - c) / (0.8 * c));
        let r2 = x * x + y * y + z * z;
        if r2 > 1.0 {
            return 0.0;
        }
        let h = (i.wrapping_mul(73_856_093) ^ j.wrapping_mul(19_349_663) ^ k.wrapping_mul(83_492_791)) % 1000;
        100.0 * (1.0 - r2) + 20.0 + h as f32 / 50.0
    })
}

/// Runs an intensity node on a volume it owns (so it works in place), as the runner would.
fn run_node(op: &dyn Op, volume: Volume) -> Result<Value, OpError> {
    let case_inputs = BTreeMap::new();
    let materialize = |_: &Deferred| -> Result<Volume, OpError> {
        Err(OpError::Input { port: "volume".into(), message: "no resampling in this benchmark".into() })
    };
    let mut ctx = RunContext {
        node: "bench",
        case_id: "phantom",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 0, case_id: "phantom", output_index: 0, node: "bench" }),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let inputs = Inputs(BTreeMap::from([("volume".to_owned(), Value::Volume(Arc::new(volume)))]));
    op.run(&mut ctx, inputs)
}

#[allow(clippy::unnecessary_wraps)] // the areas share one signature
pub fn rows() -> anyhow::Result<Vec<Row>> {
    let a = phantom(N);
    let v = a.view();
    let volume = Volume::image3(a.clone(), Affine::identity());
    let node_ms = |op: &dyn Op| median_ms_with(RUNS, || volume.clone(), |owned| run_node(op, owned).ok());
    let gamma_node = Gamma { gamma: 0.8, rescale: false, invert: false, retain_stats: false };
    let zscore = Normalize::default();
    let minmax = Normalize { mode: NormalizeMode::Minmax, over: Some(Over::All), ..Normalize::default() };
    let coefficients: Vec<f64> = (0..20).map(|i| 0.02 * f64::from(i % 7) - 0.06).collect();
    let row = |name: &str, target: Option<f64>, baseline: &'static str, ms: f64| Row {
        name: name.to_owned(),
        voxflow_ms: ms,
        target_ms: target,
        baseline,
    };
    Ok(vec![
        row(
            "percentile clip 5/95, 256^3 f32",
            Some(40.0),
            "numpy.clip(x, *numpy.percentile(x, [5, 95]))",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::percentile_clip(v, 5.0, 95.0, Region::All).ok());
            }),
        ),
        row(
            "z-score over non-zero, 256^3 f32",
            Some(20.0),
            "(x - x[x!=0].mean()) / x[x!=0].std()",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::normalize(v, &zscore, None).ok());
            }),
        ),
        row(
            "z-score non-zero, 256^3 (node, in place)",
            Some(20.0),
            "normalize node on a volume it owns (graphrun's path)",
            node_ms(&zscore),
        ),
        row(
            "min-max to [0,1], 256^3 f32",
            None,
            "(x - x.min()) / (x.max() - x.min())",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::normalize(v, &minmax, None).ok());
            }),
        ),
        row(
            "clip 20..80, 256^3 f32",
            None,
            "numpy.clip(x, 20, 80)",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::clip(v, 20.0, 80.0));
            }),
        ),
        row(
            "gamma 0.8, 256^3 f32",
            Some(20.0),
            "numpy.sign(x) * numpy.abs(x) ** 0.8 (TorchIO)",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::gamma::gamma(v, 0.8, false, false));
            }),
        ),
        row(
            "gamma 0.8, 256^3 (node, in place)",
            Some(20.0),
            "gamma node on a volume it owns (graphrun's path)",
            node_ms(&gamma_node),
        ),
        row(
            "gaussian blur sigma 2 vox, 256^3 f32",
            Some(60.0),
            "scipy.ndimage.gaussian_filter(x, 2.0)",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::gaussian_filter(v, [2.0; 3], 4.0));
            }),
        ),
        row(
            "gaussian noise std 1, 256^3 f32",
            None,
            "x + numpy.random.default_rng().normal(0, 1, x.shape)",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::noise::add_noise(v, 0.0, 1.0, 7, 0));
            }),
        ),
        row(
            "bias field order 3, 256^3 f32",
            None,
            "x * TorchIO generate_bias_field(order 3)",
            median_ms(RUNS, || {
                black_box(voxflow_intensity::bias_field::bias_field(v, 3, &coefficients));
            }),
        ),
    ])
}
