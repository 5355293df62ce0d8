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
