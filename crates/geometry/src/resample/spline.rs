//! scipy's cubic B-spline prefilter (`spline_filter`, order 3), mode-aware like scipy 1.17.

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;
use voxflow_core::BoundaryMode;

/// The pole of the cubic B-spline.
const POLE: f64 = -0.267_949_192_431_122_7; // sqrt(3) - 2

/// Filters every line of `data` along every axis, in place (f64 within each line).
///
/// Lines are filtered in panels: the lines of one slice side by side in an f64 buffer
/// `[position][line]`, so each step of the recursion is one pass over contiguous memory for all
/// lines at once (vectorised, cache-friendly), and slices run in parallel.
pub(crate) fn prefilter_in_place(data: &mut Array3<f32>, mode: BoundaryMode) {
    let shape = [data.len_of(Axis(0)), data.len_of(Axis(1)), data.len_of(Axis(2))];
    for axis in 0..3 {
        if shape[axis] <= 1 || shape.contains(&0) {
            continue;
        }
        // Slices that contain whole lines along `axis`: index the other axis that is not x
        // (or y when filtering along x).
        let slice_axis = if axis == 2 { 1 } else { 2 };
        data.axis_iter_mut(Axis(slice_axis)).into_par_iter().for_each(|mut slice| {
            // `slice` is 2D: its axis 0 is x; its axis 1 is the remaining one of y, z.
            let (n, lanes) = if axis == 0 {
                (slice.len_of(Axis(0)), slice.len_of(Axis(1)))
            } else {
                (slice.len_of(Axis(1)), slice.len_of(Axis(0)))
            };
            if axis == 0 {
                // Lines along x are contiguous: panels of a few of them, so the transposition
                // into and out of the panel stays within a few cache lines.
                const LANES: usize = 8;
                let mut buf = vec![0.0f64; n * LANES];
                for first in (0..lanes).step_by(LANES) {
                    let k = (lanes - first).min(LANES);
                    let panel = &mut buf[..n * k];
                    for lane in 0..k {
                        for (i, &v) in slice.index_axis(Axis(1), first + lane).iter().enumerate() {
                            panel[i * k + lane] = f64::from(v);
                        }
                    }
                    filter_panel(panel, n, k, mode);
                    for lane in 0..k {
                        for (i, v) in slice.index_axis_mut(Axis(1), first + lane).iter_mut().enumerate() {
                            *v = panel[i * k + lane] as f32;
                        }
                    }
                }
                return;
            }
            let mut buf: Vec<f64> = Vec::with_capacity(n * lanes);
            for line in slice.axis_iter(Axis(1)) {
                match line.as_slice() {
                    Some(row) => buf.extend(row.iter().map(|&v| f64::from(v))),
                    None => buf.extend(line.iter().map(|&v| f64::from(v))),
                }
            }
            filter_panel(&mut buf, n, lanes, mode);
            for (mut line, src) in slice.axis_iter_mut(Axis(1)).zip(buf.chunks_exact(lanes)) {
                match line.as_slice_mut() {
                    Some(row) => {
                        for (v, &x) in row.iter_mut().zip(src) {
                            *v = x as f32;
                        }
                    }
                    None => {
                        for (v, &x) in line.iter_mut().zip(src) {
                            *v = x as f32;
                        }
                    }
                }
            }
        });
    }
}

/// Filters `lanes` lines of length `n` stored as `buf[i * lanes + lane]`: [`filter_line`] on
/// each line, computed row by row.
pub(crate) fn filter_panel(buf: &mut [f64], n: usize, lanes: usize, mode: BoundaryMode) {
    if n <= 1 {
        return;
    }
    if mode == BoundaryMode::GridWrap {
        // Rare: line by line.
        let mut line = vec![0.0; n];
        for lane in 0..lanes {
            for i in 0..n {
                line[i] = buf[i * lanes + lane];
            }
            filter_line(&mut line, mode);
            for i in 0..n {
                buf[i * lanes + lane] = line[i];
            }
        }
        return;
    }
    let z = POLE;
    let gain = (1.0 - z) * (1.0 - 1.0 / z);
    for v in buf.iter_mut() {
        *v *= gain;
    }
    // Causal initialisation: c0 = sum of z^i-weighted samples (mirror or reflect), truncated
    // where z^i no longer changes a double.
    let reflect = matches!(mode, BoundaryMode::Nearest | BoundaryMode::Reflect);
    let mut c0 = buf[..lanes].to_vec();
    let horizon = n.min(40);
    if reflect {
        let z_n = z.powi(n as i32);
        let mut z_i = z;
        for i in 1..n.min(horizon) {
            axpy(&mut c0, z_i, &buf[i * lanes..(i + 1) * lanes]);
            z_i *= z;
        }
        // The mirrored tail z^n (c[n-1] + z c[n-2] + ...), negligible unless n is small.
        let mut z_i = z_n;
        for i in 0..n.min(horizon) {
            let k = n - 1 - i;
            axpy(&mut c0, z_i, &buf[k * lanes..(k + 1) * lanes]);
            z_i *= z;
        }
        let first = buf[..lanes].to_vec();
        let scale = z / (1.0 - z_n * z_n);
        for ((dst, &s), &f) in buf[..lanes].iter_mut().zip(&c0).zip(&first) {
            *dst = s * scale + f;
        }
    } else {
        let z_n_1 = z.powi((n - 1) as i32);
        let mut z_i = z;
        for i in 1..(n - 1).min(horizon) {
            axpy(&mut c0, z_i, &buf[i * lanes..(i + 1) * lanes]);
            z_i *= z;
        }
        // c0 += z^(n-1) c[n-1] + sum_i z^i z^(n-1) c[n-1-i]: the mirrored tail.
        let mut z_i = z_n_1;
        for i in 0..(n - 1).min(horizon) {
            let k = n - 1 - i;
            axpy(&mut c0, z_i, &buf[k * lanes..(k + 1) * lanes]);
            z_i *= z;
        }
        let scale = 1.0 / (1.0 - z_n_1 * z_n_1);
        for (dst, &s) in buf[..lanes].iter_mut().zip(&c0) {
            *dst = s * scale;
        }
    }
    for i in 1..n {
        let (prev, cur) = buf.split_at_mut(i * lanes);
        let prev = &prev[(i - 1) * lanes..];
        for (c, &p) in cur[..lanes].iter_mut().zip(prev) {
            *c += z * p;
        }
    }
    let last = (n - 1) * lanes;
    if reflect {
        for v in &mut buf[last..] {
            *v *= z / (z - 1.0);
        }
    } else {
        let k = z / (z * z - 1.0);
        let (head, tail) = buf.split_at_mut(last);
        for (c, &p) in tail.iter_mut().zip(&head[last - lanes..]) {
            *c = (z * p + *c) * k;
        }
    }
    for i in (0..n - 1).rev() {
        let (head, tail) = buf.split_at_mut((i + 1) * lanes);
        for (c, &next) in head[i * lanes..].iter_mut().zip(&tail[..lanes]) {
            *c = z * (next - *c);
        }
    }
}

fn axpy(acc: &mut [f64], a: f64, x: &[f64]) {
    for (y, &v) in acc.iter_mut().zip(x) {
        *y += a * v;
    }
}

/// The prefilter of `input` as a new array, in Fortran (x fastest) order.
#[must_use]
pub(crate) fn prefilter(input: ArrayView3<f32>, mode: BoundaryMode) -> Array3<f32> {
    let mut out = voxflow_core::memory::new_array([input.shape()[0], input.shape()[1], input.shape()[2]]);
    out.assign(&input);
    prefilter_in_place(&mut out, mode);
    out
}

/// One line, as scipy's `_apply_filter` with its boundary initialisations.
pub(crate) fn filter_line(c: &mut [f64], mode: BoundaryMode) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panel_equals_line_by_line() {
        for mode in
            [BoundaryMode::Mirror, BoundaryMode::Reflect, BoundaryMode::Constant, BoundaryMode::GridWrap]
        {
            for n in [2usize, 3, 7, 60] {
                let lanes = 3;
                let mut buf: Vec<f64> = (0..n * lanes).map(|i| ((i * 37 % 11) as f64) - 4.5).collect();
                let mut lines: Vec<Vec<f64>> =
                    (0..lanes).map(|l| (0..n).map(|i| buf[i * lanes + l]).collect()).collect();
                filter_panel(&mut buf, n, lanes, mode);
                for (l, line) in lines.iter_mut().enumerate() {
                    filter_line(line, mode);
                    for i in 0..n {
                        assert!(
                            (line[i] - buf[i * lanes + l]).abs() < 1e-12,
                            "{mode:?} n={n} lane {l} i {i}"
                        );
                    }
                }
            }
        }
    }
}
