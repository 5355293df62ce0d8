//! The fast paths of the image resample: whole output rows whose interpolation windows lie inside
//! the input, with no boundary handling. Along an output row the input coordinate moves by a
//! constant vector (the matrix is affine), so the interior of a row is one interval of `x`,
//! found once per row; voxels outside it take the general path.

/// The input buffer: contiguous memory with non-negative strides.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Grid<'a> {
    pub(crate) data: &'a [f32],
    pub(crate) shape: [usize; 3],
    pub(crate) strides: [usize; 3],
}

/// The `x` interval `[x0, x1)` of an output row (coordinates `base + x · step`) on which every
/// axis' coordinate lies in `[lo, hi)`, with a small margin inside against rounding.
#[must_use]
pub(crate) fn interior(
    base: [f64; 3],
    step: [f64; 3],
    lo: [f64; 3],
    hi: [f64; 3],
    nx: usize,
) -> (usize, usize) {
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
pub(crate) fn linear_row(g: &Grid<'_>, base: [f64; 3], step: [f64; 3], x0: usize, out: &mut [f32]) -> usize {
    let flat_y = step[1] == 0.0 && base[1].fract() == 0.0;
    let flat_z = step[2] == 0.0 && base[2].fract() == 0.0;
    // One loop per case, so the inner loop has no per-voxel branches on them.
    match (g.strides[0] == 1, flat_y, flat_z) {
        (true, false, false) => linear_row_x4::<false>(g, base, step, x0, out),
        (true, false, true) => linear_row_x4::<true>(g, base, step, x0, out),
        (true, true, false) => linear_row_in::<true, true, false>(g, base, step, x0, out),
        (true, true, true) => linear_row_in::<true, true, true>(g, base, step, x0, out),
        (false, false, false) => linear_row_in::<false, false, false>(g, base, step, x0, out),
        (false, false, true) => linear_row_in::<false, false, true>(g, base, step, x0, out),
        (false, true, false) => linear_row_in::<false, true, false>(g, base, step, x0, out),
        (false, true, true) => linear_row_in::<false, true, true>(g, base, step, x0, out),
    }
}

/// A coordinate in fixed point (32 fractional bits): along a row it advances by an exact
/// integer step, its floor is a shift and its fraction a mask, which costs a few instructions
/// where `f64` needs a saturating conversion per axis. The rounding (2^-33 per voxel, ~1e-7
/// over a row) is far inside the interval's margin and far below interpolation tolerance.
#[derive(Debug, Clone, Copy)]
struct Fixed(i64);

impl Fixed {
    const ONE: f64 = 4_294_967_296.0;

    fn new(v: f64) -> Self {
        Fixed((v * Self::ONE).round() as i64)
    }

    /// The floor (an index, non-negative inside the interval).
    #[inline]
    fn index(self) -> usize {
        (self.0 >> 32) as usize
    }

    /// The fractional part, in [0, 1) with 24 bits.
    #[inline]
    fn fraction(self) -> f32 {
        ((self.0 >> 8) & 0xFF_FFFF) as i32 as f32 * (1.0 / 16_777_216.0)
    }
}

/// The common trilinear rows (x contiguous, crossing input lines, and planes unless
/// `FLAT_Z`), four voxels at a time: the corners of four windows gathered into `[f32; 4]`
/// lanes, then the lerps on whole lanes, which the compiler turns into SSE vector arithmetic
/// (a quarter of the arithmetic instructions of [`linear_row_in`], same results).
fn linear_row_x4<const FLAT_Z: bool>(
    g: &Grid<'_>,
    base: [f64; 3],
    step: [f64; 3],
    x0: usize,
    out: &mut [f32],
) -> usize {
    let [_, sy, sz] = g.strides;
    let data = g.data;
    let span = sy + if FLAT_Z { 0 } else { sz } + 2;
    let xf = x0 as f64;
    let mut c: [Fixed; 3] = std::array::from_fn(|a| Fixed::new(base[a] + step[a] * xf));
    let d: [i64; 3] = std::array::from_fn(|a| Fixed::new(step[a]).0);
    let plane = if FLAT_Z { c[2].index() * sz } else { 0 };
    let lerp4 = |a: [f32; 4], b: [f32; 4], t: [f32; 4]| -> [f32; 4] {
        std::array::from_fn(|k| a[k] + (b[k] - a[k]) * t[k])
    };
    let mut done = 0;
    for chunk in out.chunks_exact_mut(4) {
        let mut p = [[0.0f32; 4]; 8];
        // The four voxels' coordinates as lanes: their fractions are lane arithmetic too.
        let lanes: [[i64; 4]; 3] = std::array::from_fn(|a| std::array::from_fn(|k| c[a].0 + k as i64 * d[a]));
        let t: [[f32; 4]; 3] = std::array::from_fn(|a| lanes[a].map(|v| Fixed(v).fraction()));
        for k in 0..4 {
            let index = |a: usize| Fixed(lanes[a][k]).index();
            let o = plane + index(0) + index(1) * sy + if FLAT_Z { 0 } else { index(2) * sz };
            let Some(w) = data.get(o..o + span) else { return done };
            p[0][k] = w[0];
            p[1][k] = w[1];
            p[2][k] = w[sy];
            p[3][k] = w[sy + 1];
            if !FLAT_Z {
                p[4][k] = w[sz];
                p[5][k] = w[sz + 1];
                p[6][k] = w[sz + sy];
                p[7][k] = w[sz + sy + 1];
            }
        }
        for a in 0..3 {
            c[a].0 += 4 * d[a];
        }
        let v0 = lerp4(lerp4(p[0], p[1], t[0]), lerp4(p[2], p[3], t[0]), t[1]);
        let v = if FLAT_Z {
            v0
        } else {
            let v1 = lerp4(lerp4(p[4], p[5], t[0]), lerp4(p[6], p[7], t[0]), t[1]);
            lerp4(v0, v1, t[2])
        };
        chunk.copy_from_slice(&v);
        done += 4;
    }
    if done < out.len() {
        let rest = &mut out[done..];
        done += linear_row_in::<true, false, FLAT_Z>(g, base, step, x0 + done, rest);
    }
    done
}

fn linear_row_in<const UNIT_X: bool, const FLAT_Y: bool, const FLAT_Z: bool>(
    g: &Grid<'_>,
    base: [f64; 3],
    step: [f64; 3],
    x0: usize,
    out: &mut [f32],
) -> usize {
    let sx = if UNIT_X { 1 } else { g.strides[0] };
    let [_, sy, sz] = g.strides;
    let data = g.data;
    let span = sx + if FLAT_Y { 0 } else { sy } + if FLAT_Z { 0 } else { sz } + 1;
    let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
    let xf = x0 as f64;
    let mut c: [Fixed; 3] = std::array::from_fn(|a| Fixed::new(base[a] + step[a] * xf));
    let d: [i64; 3] = std::array::from_fn(|a| Fixed::new(step[a]).0);
    // The fixed y line / z plane of a flat row.
    let plane = if FLAT_Y { c[1].index() * sy } else { 0 } + if FLAT_Z { c[2].index() * sz } else { 0 };
    for (i, dst) in out.iter_mut().enumerate() {
        let mut o = plane + c[0].index() * sx;
        if !FLAT_Y {
            o += c[1].index() * sy;
        }
        if !FLAT_Z {
            o += c[2].index() * sz;
        }
        let Some(w) = data.get(o..o + span) else { return i };
        let tx = c[0].fraction();
        let mut v = lerp(w[0], w[sx], tx);
        if !FLAT_Y {
            v = lerp(v, lerp(w[sy], w[sy + sx], tx), c[1].fraction());
        }
        if !FLAT_Z {
            let mut u = lerp(w[sz], w[sz + sx], tx);
            if !FLAT_Y {
                u = lerp(u, lerp(w[sz + sy], w[sz + sy + sx], tx), c[1].fraction());
            }
            v = lerp(v, u, c[2].fraction());
        }
        *dst = v;
        for a in 0..3 {
            c[a].0 += d[a];
        }
    }
    out.len()
}

/// The cubic B-spline weights of the fractional part `t`.
#[inline]
#[must_use]
pub(crate) fn weights(t: f32) -> [f32; 4] {
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
pub(crate) fn cubic_row(g: &Grid<'_>, base: [f64; 3], step: [f64; 3], x0: usize, out: &mut [f32]) -> usize {
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

/// [`cubic_row`] on one plane of coefficients (`shape` = `[nx, ny]`, x contiguous): the z
/// window already folded into it (see the in-plane case of the resample). `base`/`step` are
/// 3D; their z is ignored.
pub(crate) fn cubic_row_planar(
    plane: &[f32],
    [nx, _]: [usize; 2],
    base: [f64; 3],
    step: [f64; 3],
    x0: usize,
    out: &mut [f32],
) -> usize {
    let span = 3 * nx + 4;
    let xf = x0 as f64;
    let mut c: [Fixed; 2] = std::array::from_fn(|a| Fixed::new(base[a] + step[a] * xf));
    let d: [i64; 2] = std::array::from_fn(|a| Fixed::new(step[a]).0);
    for (i, dst) in out.iter_mut().enumerate() {
        // At least 1 inside the interval.
        let o = (c[0].index() - 1) + (c[1].index() - 1) * nx;
        let Some(w) = plane.get(o..o + span) else { return i };
        let wx = weights(c[0].fraction());
        let wy = weights(c[1].fraction());
        let mut acc = [0.0f32; 4];
        for (j, wyj) in wy.iter().enumerate() {
            let row = &w[j * nx..j * nx + 4];
            for l in 0..4 {
                acc[l] += wyj * row[l];
            }
        }
        *dst = acc[0] * wx[0] + acc[1] * wx[1] + acc[2] * wx[2] + acc[3] * wx[3];
        c[0].0 += d[0];
        c[1].0 += d[1];
    }
    out.len()
}

/// An interval of `x` outside which an output row's coordinates surely leave `[lo, hi]` on
/// some axis (grown by a small tolerance against rounding): with scipy's
/// `constant` mode those voxels are the fill value. `None`: the whole row is outside.
#[must_use]
pub(crate) fn outer(
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

impl Grid<'_> {
    /// Trilinear interpolation at many coordinates (`out[i]` at `(cx[i], cy[i], cz[i])`), in
    /// blocks: first each voxel's window offset, fractions and whether the window is inside
    /// (branch-free arithmetic over arrays, which the compiler vectorises), then the reads.
    /// Voxels whose window is not inside get `slow(i)`.
    pub(crate) fn linear_many(
        &self,
        cx: &[f64],
        cy: &[f64],
        cz: &[f64],
        out: &mut [f32],
        slow: impl Fn(usize) -> f32,
    ) {
        const B: usize = 64;
        let [sx, sy, sz] = self.strides;
        let hi = self.shape.map(|n| n as f64 - 1.0);
        let span = sx + sy + sz + 1;
        let mut offsets = [0usize; B];
        let mut t = [[0.0f32; B]; 3];
        let mut inside = [false; B];
        let lerp = |a: f32, b: f32, t: f32| a + (b - a) * t;
        for (b, (((block, bx), by), bz)) in
            out.chunks_mut(B).zip(cx.chunks(B)).zip(cy.chunks(B)).zip(cz.chunks(B)).enumerate()
        {
            let n = block.len();
            for i in 0..n {
                let c = [bx[i], by[i], bz[i]];
                let ok =
                    c[0] >= 0.0 && c[0] < hi[0] && c[1] >= 0.0 && c[1] < hi[1] && c[2] >= 0.0 && c[2] < hi[2];
                let c = if ok { c } else { [0.0; 3] };
                let idx = c.map(|v| v as i32);
                inside[i] = ok;
                offsets[i] = idx[0] as usize * sx + idx[1] as usize * sy + idx[2] as usize * sz;
                for a in 0..3 {
                    t[a][i] = (c[a] - f64::from(idx[a])) as f32;
                }
            }
            for i in 0..n {
                let o = offsets[i];
                block[i] = match self.data.get(o..o + span) {
                    Some(w) if inside[i] => {
                        let [tx, ty, tz] = [t[0][i], t[1][i], t[2][i]];
                        let v0 = lerp(lerp(w[0], w[sx], tx), lerp(w[sy], w[sy + sx], tx), ty);
                        let v1 = lerp(lerp(w[sz], w[sz + sx], tx), lerp(w[sz + sy], w[sz + sy + sx], tx), ty);
                        lerp(v0, v1, tz)
                    }
                    _ => slow(b * B + i),
                };
            }
        }
    }

    /// Cubic B-spline interpolation of coefficients at one coordinate (in the buffer's
    /// coordinates), when its window lies inside (`1 <= c < len - 2` on every axis).
    #[inline]
    #[must_use]
    pub(crate) fn cubic_at(&self, c: [f64; 3]) -> Option<f32> {
        let inside = (0..3).all(|a| c[a] >= 1.0 && c[a] < self.shape[a] as f64 - 2.0);
        if !inside {
            return None;
        }
        let [sx, sy, sz] = self.strides;
        let idx = c.map(|v| v as i32);
        let o = (idx[0] as usize - 1) * sx + (idx[1] as usize - 1) * sy + (idx[2] as usize - 1) * sz;
        let w = self.data.get(o..o + 3 * (sx + sy + sz) + 1)?;
        let wx = weights((c[0] - f64::from(idx[0])) as f32);
        let wy = weights((c[1] - f64::from(idx[1])) as f32);
        let wz = weights((c[2] - f64::from(idx[2])) as f32);
        let mut acc = [0.0f32; 4];
        for (k, wzk) in wz.iter().enumerate() {
            for (j, wyj) in wy.iter().enumerate() {
                let weight = wzk * wyj;
                let r = k * sz + j * sy;
                for (l, a) in acc.iter_mut().enumerate() {
                    *a += weight * w[r + l * sx];
                }
            }
        }
        Some(acc[0] * wx[0] + acc[1] * wx[1] + acc[2] * wx[2] + acc[3] * wx[3])
    }
}
