//! The fast paths of the image resample: whole output rows whose interpolation windows lie inside
//! the input, with no boundary handling. Along an output row the input coordinate moves by a
//! constant vector (the matrix is affine), so the interior of a row is one interval of `x`,
//! found once per row; voxels outside it take the general path.

/// The input buffer: contiguous memory with non-negative strides.
#[derive(Debug, Clone, Copy)]
pub struct Grid<'a> {
    pub data: &'a [f32],
    pub shape: [usize; 3],
    pub strides: [usize; 3],
}

/// The `x` interval `[x0, x1)` of an output row (coordinates `base + x · step`) on which every
/// axis' coordinate lies in `[lo, hi)`, with a small margin inside against rounding.
#[must_use]
pub fn interior(base: [f64; 3], step: [f64; 3], lo: [f64; 3], hi: [f64; 3], nx: usize) -> (usize, usize) {
    let mut from = 0.0f64;
    let mut to = nx as f64 - 1.0;
    for a in 0..3 {
        if hi[a] <= lo[a] {
            return (0, 0);
        }
        if step[a] == 0.0 {
            if !(base[a] >= lo[a] && base[a] < hi[a]) {
                return (0, 0);
            }
            continue;
        }
        // A margin inside `[lo, hi)` covers the rounding of the division and of the
        // coordinates (which the fast paths advance incrementally).
        let margin = 1e-6 * (1.0 + hi[a].abs());
        let t0 = (lo[a] + margin - base[a]) / step[a];
        let t1 = (hi[a] - margin - base[a]) / step[a];
        let (a0, a1) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
        from = from.max(a0);
        to = to.min(a1);
    }
    if !(from.is_finite() && to.is_finite()) || to < from {
        return (0, 0);
    }
    let x0 = from.ceil().max(0.0);
    let x1 = (to.floor() + 1.0).min(nx as f64);
    if x1 <= x0 { (0, 0) } else { (x0 as usize, x1 as usize) }
}

/// Trilinear interpolation along a row interior: `out[i]` at `base + (x0 + i) · step`. Returns
/// how many voxels it filled (all of `out` unless a window falls outside the buffer, which the
/// interval excludes; the caller finishes any rest with the general path). Coordinates advance
/// by `step` per voxel. When the row stays on one input plane along y or z (an in-plane
/// transform, a zoom by an integer ratio) the neighbour across that plane has weight 0 and is
/// not read.
pub fn linear_row(g: &Grid<'_>, base: [f64; 3], step: [f64; 3], x0: usize, out: &mut [f32]) -> usize {
    let [sx, sy, sz] = g.strides;
    let data = g.data;
    let flat_y = step[1] == 0.0 && base[1].fract() == 0.0;
    let flat_z = step[2] == 0.0 && base[2].fract() == 0.0;
    let span = sx + if flat_y { 0 } else { sy } + if flat_z { 0 } else { sz } + 1;
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let xf = x0 as f64;
    let (mut cx, mut cy, mut cz) = (base[0] + step[0] * xf, base[1] + step[1] * xf, base[2] + step[2] * xf);
    for (i, dst) in out.iter_mut().enumerate() {
        // Non-negative inside the interval: truncation is the floor.
        let (ix, iy, iz) = (cx as i32, cy as i32, cz as i32);
        let o = (ix as usize)
            .wrapping_mul(sx)
            .wrapping_add((iy as usize).wrapping_mul(sy))
            .wrapping_add((iz as usize).wrapping_mul(sz));
        let Some(w) = data.get(o..o.wrapping_add(span)) else { return i };
        let tx = (cx - f64::from(ix)) as f32;
        let mut v = lerp(w[0], w[sx], tx);
        if !flat_y {
            let ty = (cy - f64::from(iy)) as f32;
            v = lerp(v, lerp(w[sy], w[sy + sx], tx), ty);
        }
        if !flat_z {
            let tz = (cz - f64::from(iz)) as f32;
            let mut u = lerp(w[sz], w[sz + sx], tx);
            if !flat_y {
                let ty = (cy - f64::from(iy)) as f32;
                u = lerp(u, lerp(w[sz + sy], w[sz + sy + sx], tx), ty);
            }
            v = lerp(v, u, tz);
        }
        *dst = v;
        cx += step[0];
        cy += step[1];
        cz += step[2];
    }
    out.len()
}

/// The cubic B-spline weights of the fractional part `t`.
#[inline]
fn weights(t: f32) -> [f32; 4] {
    let u = 1.0 - t;
    let t2 = t * t;
    let t3 = t2 * t;
    [
        u * u * u * (1.0 / 6.0),
        (3.0 * t3 - 6.0 * t2 + 4.0) * (1.0 / 6.0),
        (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) * (1.0 / 6.0),
        t3 * (1.0 / 6.0),
    ]
}

/// Cubic B-spline interpolation of coefficients along a row interior (see [`linear_row`]).
/// The 4x4 rows of the window along x are summed as 4-wide vectors, weighted by `wz · wy`, and
/// dotted with `wx` at the end.
pub fn cubic_row(g: &Grid<'_>, base: [f64; 3], step: [f64; 3], x0: usize, out: &mut [f32]) -> usize {
    let [sx, sy, sz] = g.strides;
    let data = g.data;
    let span = 3 * (sx + sy + sz) + 1;
    let xf = x0 as f64;
    let (mut cx, mut cy, mut cz) = (base[0] + step[0] * xf, base[1] + step[1] * xf, base[2] + step[2] * xf);
    for (i, dst) in out.iter_mut().enumerate() {
        // At least 1 inside the interval: truncation is the floor.
        let (ix, iy, iz) = (cx as i32, cy as i32, cz as i32);
        let o = (ix as usize)
            .wrapping_sub(1)
            .wrapping_mul(sx)
            .wrapping_add((iy as usize).wrapping_sub(1).wrapping_mul(sy))
            .wrapping_add((iz as usize).wrapping_sub(1).wrapping_mul(sz));
        let Some(w) = data.get(o..o.wrapping_add(span)) else { return i };
        let wx = weights((cx - f64::from(ix)) as f32);
        let wy = weights((cy - f64::from(iy)) as f32);
        let wz = weights((cz - f64::from(iz)) as f32);
        let mut acc = [0.0f32; 4];
        for (k, wzk) in wz.iter().enumerate() {
            if *wzk == 0.0 {
                continue;
            }
            for (j, wyj) in wy.iter().enumerate() {
                let weight = wzk * wyj;
                let r = k * sz + j * sy;
                let row: [f32; 4] = if sx == 1 {
                    match w.get(r..r + 4) {
                        Some(s) => [s[0], s[1], s[2], s[3]],
                        None => return i,
                    }
                } else {
                    [w[r], w[r + sx], w[r + 2 * sx], w[r + 3 * sx]]
                };
                for l in 0..4 {
                    acc[l] += weight * row[l];
                }
            }
        }
        *dst = acc[0] * wx[0] + acc[1] * wx[1] + acc[2] * wx[2] + acc[3] * wx[3];
        cx += step[0];
        cy += step[1];
        cz += step[2];
    }
    out.len()
}

/// An interval of `x` outside which an output row's coordinates surely leave `[lo, hi]` on
/// some axis (grown by a small tolerance against rounding): with scipy's
/// `constant` mode those voxels are the fill value. `None`: the whole row is outside.
#[must_use]
pub fn outer(
    base: [f64; 3],
    step: [f64; 3],
    lo: [f64; 3],
    hi: [f64; 3],
    nx: usize,
) -> Option<(usize, usize)> {
    const TOL: f64 = 1e-6;
    let mut from = f64::NEG_INFINITY;
    let mut to = f64::INFINITY;
    for a in 0..3 {
        if step[a] == 0.0 {
            if base[a] < lo[a] - TOL || base[a] > hi[a] + TOL || base[a].is_nan() {
                return None;
            }
            continue;
        }
        let t0 = (lo[a] - TOL - base[a]) / step[a];
        let t1 = (hi[a] + TOL - base[a]) / step[a];
        let (a0, a1) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
        from = from.max(a0);
        to = to.min(a1);
    }
    if from.is_nan() || to.is_nan() || to < from {
        return None;
    }
    let x0 = from.floor().max(0.0);
    let x1 = (to.ceil() + 1.0).min(nx as f64);
    if x1 <= x0 { None } else { Some((x0 as usize, x1 as usize)) }
}
