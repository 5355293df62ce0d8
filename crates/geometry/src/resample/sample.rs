//! The per-voxel samplers of the general (boundary-aware) path: nearest, linear, cubic and
//! one-hot label interpolation at one input coordinate, under scipy's boundary rules.

use super::boundary::{AxisRule, FILL, cubic_window, linear_window, nearest_index};
use voxflow_core::LabelType;

/// Linear interpolation at `c`; `None` when the point takes the fill value.
#[inline]
pub(super) fn sample_linear(data: &[f32], axes: &[AxisRule; 3], c: [f64; 3], cval: f64) -> Option<f32> {
    let c = [axes[0].map_coordinate(c[0])?, axes[1].map_coordinate(c[1])?, axes[2].map_coordinate(c[2])?];
    let (sx, wx) = linear_window(c[0]);
    let (sy, wy) = linear_window(c[1]);
    let (sz, wz) = linear_window(c[2]);
    if axes[0].inside(sx, 2) && axes[1].inside(sy, 2) && axes[2].inside(sz, 2) {
        let (dx, dy, dz) = (axes[0].stride, axes[1].stride, axes[2].stride);
        let o = sx * dx + sy * dy + sz * dz;
        let at = |off: isize| f64::from(data[off as usize]);
        let v00 = wx[0] * at(o) + wx[1] * at(o + dx);
        let v10 = wx[0] * at(o + dy) + wx[1] * at(o + dx + dy);
        let v01 = wx[0] * at(o + dz) + wx[1] * at(o + dx + dz);
        let v11 = wx[0] * at(o + dy + dz) + wx[1] * at(o + dx + dy + dz);
        let v = wz[0] * (wy[0] * v00 + wy[1] * v10) + wz[1] * (wy[0] * v01 + wy[1] * v11);
        return Some(v as f32);
    }
    Some(gather::<2>(data, axes, [sx, sy, sz], [wx, wy, wz], cval) as f32)
}

/// Cubic B-spline interpolation of the coefficients at `c` (already in padded coordinates).
#[inline]
pub(super) fn sample_cubic(
    data: &[f32],
    axes: &[AxisRule; 3],
    c: [f64; 3],
    cval: f64,
    pad: f64,
) -> Option<f32> {
    // `constant`'s outside test is on the unpadded grid (there is no padding for it).
    let _ = pad;
    let c = [axes[0].map_coordinate(c[0])?, axes[1].map_coordinate(c[1])?, axes[2].map_coordinate(c[2])?];
    let (sx, wx) = cubic_window(c[0]);
    let (sy, wy) = cubic_window(c[1]);
    let (sz, wz) = cubic_window(c[2]);
    Some(gather::<4>(data, axes, [sx, sy, sz], [wx, wy, wz], cval) as f32)
}

/// The tensor-product window sum with boundary handling.
#[inline]
fn gather<const N: usize>(
    data: &[f32],
    axes: &[AxisRule; 3],
    start: [isize; 3],
    w: [[f64; N]; 3],
    cval: f64,
) -> f64 {
    let offs: [[isize; N]; 3] =
        std::array::from_fn(|a| std::array::from_fn(|k| axes[a].offset(start[a] + k as isize)));
    let mut sum = 0.0;
    for k in 0..N {
        let mut plane = 0.0;
        for j in 0..N {
            let mut row = 0.0;
            for i in 0..N {
                let v = if offs[0][i] == FILL || offs[1][j] == FILL || offs[2][k] == FILL {
                    cval
                } else {
                    f64::from(data[(offs[0][i] + offs[1][j] + offs[2][k]) as usize])
                };
                row += w[0][i] * v;
            }
            plane += w[1][j] * row;
        }
        sum += w[2][k] * plane;
    }
    sum
}

/// The voxel nearest to input coordinate `c` under the boundary rules, or `fill` outside.
/// Shared by images (order 0) and label maps (nearest).
#[inline]
pub(super) fn sample_nearest<T: Copy>(data: &[T], axes: &[AxisRule; 3], c: [f64; 3], fill: T) -> T {
    let mut off = 0isize;
    for (rule, &ca) in axes.iter().zip(&c) {
        let Some(ca) = rule.map_coordinate(ca) else { return fill };
        let o = rule.offset(nearest_index(ca));
        if o == FILL {
            return fill;
        }
        off += o;
    }
    data[off as usize]
}

/// The arg-max of the linearly interpolated one-hot maps of the labels under the window (ties:
/// the smaller label).
#[inline]
pub(super) fn sample_one_hot<T: LabelType>(data: &[T], axes: &[AxisRule; 3], c: [f64; 3], fill: T) -> T {
    let mut mapped = [0.0; 3];
    for a in 0..3 {
        match axes[a].map_coordinate(c[a]) {
            Some(v) => mapped[a] = v,
            None => return fill,
        }
    }
    let win: [(isize, [f64; 2]); 3] = std::array::from_fn(|a| linear_window(mapped[a]));
    let offs: [[isize; 2]; 3] =
        std::array::from_fn(|a| std::array::from_fn(|k| axes[a].offset(win[a].0 + k as isize)));
    let mut labels = [fill; 8];
    let mut weights = [0.0f64; 8];
    let mut n = 0;
    for k in 0..2 {
        for j in 0..2 {
            for i in 0..2 {
                let w = win[0].1[i] * win[1].1[j] * win[2].1[k];
                let label = if offs[0][i] == FILL || offs[1][j] == FILL || offs[2][k] == FILL {
                    fill
                } else {
                    data[(offs[0][i] + offs[1][j] + offs[2][k]) as usize]
                };
                if let Some(slot) = labels[..n].iter().position(|&l| l == label) {
                    weights[slot] += w;
                } else {
                    labels[n] = label;
                    weights[n] = w;
                    n += 1;
                }
            }
        }
    }
    let mut best = 0;
    for s in 1..n {
        if weights[s] > weights[best] || (weights[s] == weights[best] && labels[s] < labels[best]) {
            best = s;
        }
    }
    labels[best]
}
