//! Field generation and field + resample on 256^3 f32 (issue 5's target: ≤ 300 ms on 2 cores
//! for either model). `cargo bench -p voxflow-elastic`.

#![allow(clippy::unwrap_used)] // benches

use ndarray::Array3;
use std::sync::Arc;
use voxflow_core::{Affine, Volume};
use voxflow_elastic::{ControlGridParams, Elastic, Model, SimardParams, control_grid_field, simard_field};
use voxflow_geometry::spatial::Resampling;

const N: usize = 256;

fn main() {
    divan::main();
}

fn phantom() -> Arc<Volume> {
    let c = N as f32 / 2.0;
    let data = Array3::from_shape_fn((N, N, N), |(x, y, z)| {
        let r = ((x as f32 - c).powi(2) + (y as f32 - c).powi(2) + (z as f32 - c).powi(2)).sqrt();
        if r < 90.0 { 100.0 + (x % 7) as f32 } else { 0.0 }
    });
    // Fortran order, as volumes read from NIfTI are.
    let mut f = Array3::zeros(ndarray::ShapeBuilder::f((N, N, N)));
    f.assign(&data);
    Arc::new(Volume::image3(f, Affine::identity()))
}

#[divan::bench(args = [4.0, 11.0, 35.0], sample_count = 5)]
fn simard_field_256(sigma: f64) {
    divan::black_box(simard_field([N; 3], &SimardParams { alpha: 800.0, sigma }, 1).unwrap());
}

#[divan::bench(sample_count = 5)]
fn control_grid_field_256() {
    divan::black_box(control_grid_field([N; 3], [1.0; 3], &ControlGridParams::default(), 1).unwrap());
}

/// Field generation (fresh op, so nothing is cached) and the linear resample of the image.
#[divan::bench(args = ["simard", "control_grid"], sample_count = 5)]
fn field_and_resample_256(bencher: divan::Bencher, model: &str) {
    let volume = phantom();
    let model = match model {
        "simard" => Model::Simard(SimardParams { alpha: 800.0, sigma: 11.0 }),
        _ => Model::ControlGrid(ControlGridParams::default()),
    };
    bencher.bench(|| {
        let op = Elastic::new(model, 1, Resampling::default());
        divan::black_box(op.apply_to(&volume).unwrap())
    });
}
