//! The resampling core on a 256^3 f32 volume (Fortran order, as NIfTI volumes are read):
//! rotate order 1 and 3 (prefilter included), a general affine order 1, zoom 0.5 order 1.
//!
//! `cargo bench -p voxflow-geometry`. The same rows, beside scipy, are in `cargo xtask bench`
//! (`xtask/src/bench/geometry.rs`, `xtask/python/geometry.py`).

use nalgebra::Matrix3;
use ndarray::{Array3, ShapeBuilder};
use std::sync::LazyLock;
use voxflow_core::BoundaryMode;
use voxflow_geometry::affine::affine_transform;
use voxflow_geometry::resize::zoom;
use voxflow_geometry::rotate::rotate;

fn main() {
    divan::main();
}

const N: usize = 256;

/// A smooth head-like phantom (the formula of the io benches).
fn phantom() -> Array3<f32> {
    let c = (N as f64 - 1.0) / 2.0;
    let h = N as f64 / 2.0;
    Array3::from_shape_fn((N, N, N).f(), |(i, j, k)| {
        let (x, y, z) = ((i as f64 - c) / h, (j as f64 - c) / h, (k as f64 - c) / h);
        let r = ((x / 0.8).powi(2) + (y / 0.95).powi(2) + (z / 0.9).powi(2)).sqrt();
        if r > 1.05 {
            return 0.0;
        }
        let head = 1.0 / (1.0 + ((r - 1.0) * 40.0).exp());
        let brain = 1.0 / (1.0 + ((r - 0.85) * 40.0).exp());
        let texture = 1.0 + 0.1 * (8.0 * x).sin() * (6.0 * y).cos() * (5.0 * z).sin();
        (300.0 * head + 500.0 * brain * texture) as f32
    })
}

static VOLUME: LazyLock<Array3<f32>> = LazyLock::new(phantom);

#[divan::bench(args = [1, 3], sample_count = 5)]
fn rotate_15deg(order: u8) -> Array3<f32> {
    rotate(VOLUME.view(), 15.0, [0, 1], false, order, BoundaryMode::Constant, 0.0).expect("valid")
}

#[divan::bench(sample_count = 5)]
fn affine_order1() -> Array3<f32> {
    let m = Matrix3::new(0.95, 0.1, 0.02, -0.08, 1.05, 0.05, 0.03, -0.04, 0.9);
    affine_transform(VOLUME.view(), &m, [5.0, -3.0, 8.0], [N; 3], 1, BoundaryMode::Constant, 0.0)
        .expect("valid")
}

#[divan::bench(sample_count = 5)]
fn zoom_half_order1() -> Array3<f32> {
    zoom(VOLUME.view(), [0.5; 3], 1, BoundaryMode::Constant, 0.0, false).expect("valid")
}
