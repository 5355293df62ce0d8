//! Exact grid ops on a 256^3 f32 volume (Fortran order, as NIfTI volumes are read) next to a
//! plain copy of the same bytes: flip must run at memory speed, crop at the speed of copying
//! its output.
//!
//! `cargo bench -p voxflow-geometry --bench ops`.

use ndarray::{Array3, ShapeBuilder};
use std::sync::LazyLock;
use voxflow_geometry::crop::crop;
use voxflow_geometry::flip::flip;
use voxflow_geometry::pad::{PadMode, pad};
use voxflow_geometry::reorient::{Orientation, reorient};

fn main() {
    divan::main();
}

const N: usize = 256;

static VOLUME: LazyLock<Array3<f32>> =
    LazyLock::new(|| Array3::from_shape_fn((N, N, N).f(), |(i, j, k)| ((i * 31 + j * 7 + k) % 1000) as f32));

/// A 128^3 box's worth of contiguous bytes, for the crop baseline.
static SMALL: LazyLock<Vec<f32>> = LazyLock::new(|| vec![1.0; 128 * 128 * 128]);

/// The baseline: copy the volume's 64 MiB into a new allocation.
#[divan::bench(sample_count = 20)]
fn memcpy_256() -> Vec<f32> {
    divan::black_box(VOLUME.as_slice_memory_order().expect("contiguous")).to_vec()
}

#[divan::bench(args = [0, 1, 2], sample_count = 20)]
fn flip_256(axis: usize) -> Array3<f32> {
    flip(divan::black_box(VOLUME.view()), axis)
}

/// The baseline for a 128^3 crop: copy 8 MiB.
#[divan::bench(sample_count = 20)]
fn memcpy_128() -> Vec<f32> {
    divan::black_box(SMALL.as_slice()).to_vec()
}

#[divan::bench(sample_count = 20)]
fn crop_256_to_128() -> Array3<f32> {
    crop(divan::black_box(VOLUME.view()), [64, 64, 64], [128, 128, 128])
}

/// ndarray's own slice-and-copy, for comparison.
#[divan::bench(sample_count = 20)]
fn ndarray_slice_to_owned_128() -> Array3<f32> {
    divan::black_box(VOLUME.view()).slice(ndarray::s![64..192, 64..192, 64..192]).to_owned()
}

#[divan::bench(sample_count = 10)]
fn pad_256_edge_8() -> Array3<f32> {
    pad(divan::black_box(VOLUME.view()), [8; 3], [8; 3], PadMode::Edge, 0.0)
}

/// Reorient: LAS to RAS (a flip of x), and a full permutation with flips (e.g. PIR to RAS).
#[divan::bench(args = ["las", "permuted"], sample_count = 10)]
fn reorient_256(case: &str) -> Array3<f32> {
    let o = match case {
        "las" => Orientation { axis: [0, 1, 2], flip: [true, false, false] },
        _ => Orientation { axis: [2, 0, 1], flip: [true, false, true] },
    };
    reorient(divan::black_box(VOLUME.view()), &o)
}
