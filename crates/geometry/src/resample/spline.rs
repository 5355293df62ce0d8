//! scipy's cubic B-spline prefilter (`spline_filter`, order 3), mode-aware like scipy 1.17.

use ndarray::{Array3, ArrayView3, Axis, Zip};
use voxflow_core::BoundaryMode;

/// The pole of the cubic B-spline.
const POLE: f64 = -0.267_949_192_431_122_7; // sqrt(3) - 2

/// Filters every line of `data` along every axis, in place (f64 within each line).
pub fn prefilter_in_place(data: &mut Array3<f32>, mode: BoundaryMode) {
    for axis in 0..3 {
        if data.len_of(Axis(axis)) <= 1 {
            continue;
        }
        Zip::from(data.lanes_mut(Axis(axis))).par_for_each(|mut lane| {
            let mut line: Vec<f64> = lane.iter().map(|&v| f64::from(v)).collect();
            filter_line(&mut line, mode);
            for (dst, &src) in lane.iter_mut().zip(&line) {
                *dst = src as f32;
            }
        });
    }
}

/// The prefilter of `input` as a new array, in Fortran (x fastest) order.
#[must_use]
pub fn prefilter(input: ArrayView3<f32>, mode: BoundaryMode) -> Array3<f32> {
    let mut out = Array3::zeros(ndarray::ShapeBuilder::f(input.raw_dim()));
    out.assign(&input);
    prefilter_in_place(&mut out, mode);
    out
}

/// One line, as scipy's `_apply_filter` with its boundary initialisations.
pub fn filter_line(c: &mut [f64], mode: BoundaryMode) {
    let n = c.len();
    if n <= 1 {
        return;
    }
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    for v in c.iter_mut() {
        *v *= gain;
    }
    match mode {
        BoundaryMode::GridWrap => init_causal_wrap(c, z),
        BoundaryMode::Nearest | BoundaryMode::Reflect => init_causal_reflect(c, z),
        _ => init_causal_mirror(c, z),
    }
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    match mode {
        BoundaryMode::GridWrap => init_anticausal_wrap(c, z),
        BoundaryMode::Nearest | BoundaryMode::Reflect => c[n - 1] *= z / (z - 1.0),
        _ => c[n - 1] = (z * c[n - 2] + c[n - 1]) * z / (z * z - 1.0),
    }
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

fn init_causal_mirror(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n_1 = z.powi((n - 1) as i32);
    let mut c0 = c[0] + z_n_1 * c[n - 1];
    let mut z_i = z;
    for i in 1..n - 1 {
        c0 += z_i * (c[i] + z_n_1 * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] = c0 / (1.0 - z_n_1 * z_n_1);
}

fn init_causal_reflect(c: &mut [f64], z: f64) {
    let n = c.len();
    let z_n = z.powi(n as i32);
    let first = c[0];
    let mut c0 = c[0] + z_n * c[n - 1];
    let mut z_i = z;
    for i in 1..n {
        c0 += z_i * (c[i] + z_n * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] = c0 * z / (1.0 - z_n * z_n) + first;
}

fn init_causal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut c0 = c[0];
    let mut z_i = z;
    for i in 1..n {
        c0 += z_i * c[n - i];
        z_i *= z;
    }
    c[0] = c0 / (1.0 - z_i);
}

fn init_anticausal_wrap(c: &mut [f64], z: f64) {
    let n = c.len();
    let mut last = c[n - 1];
    let mut z_i = z;
    for &v in &c[..n - 1] {
        last += z_i * v;
        z_i *= z;
    }
    c[n - 1] = last * z / (z_i - 1.0);
}
