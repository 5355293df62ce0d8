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
/// axis' coordinate lies in `[lo, hi)`, shrunk by one voxel on each side against rounding.
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
        let t0 = (lo[a] - base[a]) / step[a];
        let t1 = (hi[a] - base[a]) / step[a];
        let (a0, a1) = if t0 < t1 { (t0, t1) } else { (t1, t0) };
        from = from.max(a0);
        to = to.min(a1);
    }
    if !(from.is_finite() && to.is_finite()) || to < from {
        return (0, 0);
    }
    let x0 = (from.ceil() + 1.0).max(0.0);
    let x1 = (to.floor() - 1.0 + 1.0).min(nx as f64);
    if x1 <= x0 { (0, 0) } else { (x0 as usize, x1 as usize) }
}

/// Trilinear interpolation along a row interior: `out[i]` at `base + (x0 + i) · step`. Returns
/// how many voxels it filled (all of `out` unless an index falls outside, which the interval
/// excludes; the caller finishes any rest with the general path). When the row stays on one
/// input z-plane (an in-plane transform), the plane above has weight 0 and is not read.
pub fn linear_row(g: &Grid<'_>, base: [f64; 3], step: [f64; 3], x0: usize, out: &mut [f32]) -> usize {
    let [sx, sy, sz] = g.strides;
    let [nx, ny, nz] = g.shape;
    let data = g.data;
    let planar = step[2] == 0.0 && base[2].fract() == 0.0;
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    for (i, dst) in out.iter_mut().enumerate() {
        let xf = (x0 + i) as f64;
        let cx = base[0] + step[0] * xf;
        let cy = base[1] + step[1] * xf;
        let cz = base[2] + step[2] * xf;
        if !(cx >= 0.0 && cy >= 0.0 && cz >= 0.0) {
            return i;
        }
        // Non-negative: truncation is the floor.
        let (ix, iy, iz) = (cx as i32 as usize, cy as i32 as usize, cz as i32 as usize);
        if ix + 1 >= nx || iy + 1 >= ny || (iz + 1 >= nz && !planar) || iz >= nz {
            return i;
        }
        let tx = (cx - f64::from(ix as i32)) as f32;
        let ty = (cy - f64::from(iy as i32)) as f32;
        let o = ix * sx + iy * sy + iz * sz;
        let x00 = lerp(data[o], data[o + sx], tx);
        let x10 = lerp(data[o + sy], data[o + sx + sy], tx);
        let lower = lerp(x00, x10, ty);
        if planar {
            *dst = lower;
            continue;
        }
        let tz = (cz - f64::from(iz as i32)) as f32;
        let x01 = lerp(data[o + sz], data[o + sx + sz], tx);
        let x11 = lerp(data[o + sy + sz], data[o + sx + sy + sz], tx);
        *dst = lerp(lower, lerp(x01, x11, ty), tz);
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
    let [nx, ny, nz] = g.shape;
    let data = g.data;
    for (i, dst) in out.iter_mut().enumerate() {
        let xf = (x0 + i) as f64;
        let cx = base[0] + step[0] * xf;
        let cy = base[1] + step[1] * xf;
        let cz = base[2] + step[2] * xf;
        if !(cx >= 1.0 && cy >= 1.0 && cz >= 1.0) {
            return i;
        }
        let (ix, iy, iz) = (cx as i32 as usize, cy as i32 as usize, cz as i32 as usize);
        if ix + 2 >= nx || iy + 2 >= ny || iz + 2 >= nz {
            return i;
        }
        let wx = weights((cx - f64::from(ix as i32)) as f32);
        let wy = weights((cy - f64::from(iy as i32)) as f32);
        let wz = weights((cz - f64::from(iz as i32)) as f32);
        let o = (ix - 1) * sx + (iy - 1) * sy + (iz - 1) * sz;
        let mut acc = [0.0f32; 4];
        for (k, wzk) in wz.iter().enumerate() {
            if *wzk == 0.0 {
                continue;
            }
            for (j, wyj) in wy.iter().enumerate() {
                let w = wzk * wyj;
                let r = o + k * sz + j * sy;
                let row: [f32; 4] = if sx == 1 {
                    data[r..r + 4].try_into().expect("a window row is 4 samples")
                } else {
                    [data[r], data[r + sx], data[r + 2 * sx], data[r + 3 * sx]]
                };
                for l in 0..4 {
                    acc[l] += w * row[l];
                }
            }
        }
        *dst = acc[0] * wx[0] + acc[1] * wx[1] + acc[2] * wx[2] + acc[3] * wx[3];
    }
    out.len()
}
