//! Speed of the intensity kernels on a 256^3 f32 volume (`cargo bench -p voxflow-intensity`).
//! Targets (issue 4, 2 cores): percentile clip <= 40 ms, z-score over non-zero <= 20 ms,
//! gamma <= 20 ms, Gaussian blur sigma 2 voxels <= 60 ms.

use ndarray::{Array3, ShapeBuilder};
use voxflow_intensity::normalize::Normalize;
use voxflow_intensity::{Region, gaussian_filter, normalize, percentile_clip};

fn main() {
    divan::main();
}

/// A head-like phantom: a noisy ellipsoid of tissue in zero air, Fortran order like NIfTI.
#[must_use]
pub fn phantom(n: usize) -> Array3<f32> {
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

const N: usize = 256;

/// Runs a node on a volume nobody else holds (as in a pipeline), so it may work in place.
fn run_node(op: &dyn voxflow_core::Op, volume: voxflow_core::Volume) -> voxflow_core::Value {
    use voxflow_core::seed::{DrawKey, rng_for};
    let case_inputs = std::collections::BTreeMap::new();
    let materialize = |_: &voxflow_core::Deferred| -> Result<voxflow_core::Volume, voxflow_core::OpError> {
        Err(voxflow_core::OpError::param("volume", "no resampling here"))
    };
    let mut ctx = voxflow_core::RunContext {
        node: "n",
        case_id: "c",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 0, case_id: "c", output_index: 0, node: "n" }),
        case_inputs: &case_inputs,
        output_dir: std::path::Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let mut inputs = voxflow_core::Inputs::default();
    inputs.0.insert("volume".into(), voxflow_core::Value::Volume(std::sync::Arc::new(volume)));
    op.run(&mut ctx, inputs).expect("the node runs")
}

fn bench_node(bencher: divan::Bencher, op: &dyn voxflow_core::Op) {
    let v = voxflow_core::Volume::image3(phantom(N), voxflow_core::Affine::identity());
    bencher.with_inputs(|| v.clone()).bench_local_values(|v| run_node(op, v));
}

/// The nodes, on an unshared volume: in place, no output allocation.
#[divan::bench]
fn node_zscore_nonzero_in_place(bencher: divan::Bencher) {
    bench_node(bencher, &Normalize::default());
}

#[divan::bench]
fn node_percentile_clip_in_place(bencher: divan::Bencher) {
    bench_node(bencher, &voxflow_intensity::percentile_clip::PercentileClip::default());
}

#[divan::bench]
fn node_gamma_in_place(bencher: divan::Bencher) {
    bench_node(
        bencher,
        &voxflow_intensity::gamma::Gamma { gamma: 0.8, rescale: false, invert: false, retain_stats: false },
    );
}

#[divan::bench]
fn percentile_clip_5_95(bencher: divan::Bencher) {
    let a = phantom(N);
    bencher.bench(|| percentile_clip(divan::black_box(a.view()), 5.0, 95.0, Region::All));
}

#[divan::bench]
fn zscore_nonzero(bencher: divan::Bencher) {
    let a = phantom(N);
    let p = Normalize::default();
    bencher.bench(|| normalize(divan::black_box(a.view()), &p, None));
}

#[divan::bench]
fn gamma_0_8(bencher: divan::Bencher) {
    let a = phantom(N);
    bencher.bench(|| voxflow_intensity::gamma::gamma(divan::black_box(a.view()), 0.8, false, false));
}

#[divan::bench]
fn gaussian_sigma_2(bencher: divan::Bencher) {
    let a = phantom(N);
    bencher.bench(|| gaussian_filter(divan::black_box(a.view()), [2.0; 3], 4.0));
}

#[divan::bench]
fn clip(bencher: divan::Bencher) {
    let a = phantom(N);
    bencher.bench(|| voxflow_intensity::clip(divan::black_box(a.view()), 20.0, 80.0));
}

#[divan::bench]
fn noise(bencher: divan::Bencher) {
    let a = phantom(N);
    bencher.bench(|| voxflow_intensity::noise::add_noise(divan::black_box(a.view()), 0.0, 1.0, 7, 0));
}

#[divan::bench]
fn bias_field_order_3(bencher: divan::Bencher) {
    let a = phantom(N);
    let c: Vec<f64> = (0..20).map(|i| 0.02 * f64::from(i % 7) - 0.06).collect();
    bencher.bench(|| voxflow_intensity::bias_field::bias_field(divan::black_box(a.view()), 3, &c));
}
