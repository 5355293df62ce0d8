//! Separable 1D linear maps (decimation, smoothing, upsampling) applied along one axis of a 3D
//! array. Both field models are built from them: a coarse array is turned into a dense field by
//! three passes, one per axis, each a banded matrix.
//!
//! Every output sample is a fixed sum over a fixed run of inputs, in a fixed order, so the
//! result does not depend on how rayon splits the work.

use ndarray::{Array3, ArrayView3, CowArray, ShapeBuilder};
use rayon::prelude::*;
use voxflow_core::DisplacementField;

/// A linear map from `in_len` samples to `rows()` samples; each output row is a dot product of
/// a run of consecutive inputs with its weights.
#[derive(Debug, Clone)]
pub(crate) struct Banded {
    in_len: usize,
    /// Per output row: (first input, offset into `weights`, number of weights).
    rows: Vec<(usize, usize, usize)>,
    weights: Vec<f64>,
}

impl Banded {
    pub(crate) fn new(in_len: usize) -> Self {
        Banded { in_len, rows: Vec::new(), weights: Vec::new() }
    }

    /// Appends an output row `sum_k weights[k] * input[first + k]`; inputs outside
    /// `0..in_len` (given as a signed first index) are dropped, which is a zero border.
    pub(crate) fn push_row(&mut self, first: isize, weights: impl IntoIterator<Item = f64>) {
        let offset = self.weights.len();
        let mut start = None;
        for (k, w) in weights.into_iter().enumerate() {
            let i = first + k as isize;
            if i < 0 || i >= self.in_len as isize {
                continue;
            }
            start.get_or_insert(i as usize);
            self.weights.push(w);
        }
        let len = self.weights.len() - offset;
        self.rows.push((start.unwrap_or(0), offset, len));
    }

    pub(crate) fn rows(&self) -> usize {
        self.rows.len()
    }

    /// Multiplies every weight by `factor`.
    pub(crate) fn scale(&mut self, factor: f64) {
        self.weights.iter_mut().for_each(|w| *w *= factor);
    }

    /// Applies the map along the columns of a column-major block: `src` is `[inner, in_len]`,
    /// `dst` is `[inner, rows]` (Fortran order); each output column is an axpy of input columns.
    pub(crate) fn apply_columns(&self, src: &[f64], inner: usize, dst: &mut [f64]) {
        for (col, &(start, offset, len)) in dst.chunks_exact_mut(inner).zip(&self.rows) {
            col.fill(0.0);
            for (k, &w) in self.weights[offset..offset + len].iter().enumerate() {
                let x = &src[(start + k) * inner..(start + k + 1) * inner];
                col.iter_mut().zip(x).for_each(|(c, &x)| *c += w * x);
            }
        }
    }

    /// Applies the map to a contiguous line.
    pub(crate) fn apply_slice(&self, input: &[f64], out: &mut [f64]) {
        for (o, &(start, offset, len)) in out.iter_mut().zip(&self.rows) {
            *o = self.weights[offset..offset + len]
                .iter()
                .zip(&input[start..start + len])
                .map(|(w, x)| w * x)
                .sum();
        }
    }
}

/// Applies `map` along `axis`, returning a new array (Fortran order) whose length along `axis`
/// is `map.rows()`.
pub(crate) fn along(input: ArrayView3<'_, f64>, axis: usize, map: &Banded) -> Array3<f64> {
    let mut shape = [input.shape()[0], input.shape()[1], input.shape()[2]];
    debug_assert_eq!(shape[axis], map.in_len);
    shape[axis] = map.rows();
    let mut out = Array3::<f64>::zeros(shape.f());
    let input = if input.t().is_standard_layout() {
        CowArray::from(input)
    } else {
        CowArray::from(to_fortran(input))
    };
    let src = input.as_slice_memory_order().expect("Fortran-order arrays are contiguous");
    let dst = out.as_slice_memory_order_mut().expect("a fresh Fortran-order array is contiguous");
    if dst.is_empty() {
        return out;
    }
    // Viewed as [inner, len, outer] in Fortran order: each output "column" (inner values) is a
    // weighted sum of input columns, a contiguous axpy whatever the axis.
    let inner: usize = shape[..axis].iter().product();
    let len_in = map.in_len;
    let rows = map.rows();
    if inner == 1 {
        // Along x: contiguous lines.
        dst.par_chunks_mut(rows).zip(src.par_chunks(len_in)).for_each(|(o, i)| map.apply_slice(i, o));
        return out;
    }
    dst.par_chunks_mut(inner * rows).enumerate().for_each(|(o, block)| {
        let src = &src[o * inner * len_in..(o + 1) * inner * len_in];
        let column = |(col, &(start, offset, len)): (&mut [f64], &(usize, usize, usize))| {
            col.fill(0.0);
            for (k, &w) in map.weights[offset..offset + len].iter().enumerate() {
                let x = &src[(start + k) * inner..(start + k + 1) * inner];
                col.iter_mut().zip(x).for_each(|(c, &x)| *c += w * x);
            }
        };
        // Short columns are not worth a task each.
        if inner < 1024 {
            block.chunks_mut(inner).zip(&map.rows).for_each(column);
        } else {
            block.par_chunks_mut(inner).zip(&map.rows).for_each(column);
        }
    });
    out
}

fn to_fortran(input: ArrayView3<'_, f64>) -> Array3<f64> {
    let mut a = Array3::zeros(input.raw_dim().f());
    a.assign(&input);
    a
}

/// One component of a displacement field kept small: `coarse` is `[hx, hy, nz]` (Fortran
/// order, already at full resolution along z), and `up_y`, `up_x` map `hy -> ny` and
/// `hx -> nx`. A row `(y, z)` is two small passes: the `hx` coarse values of row `y` (an axpy
/// of a few coarse rows of slab `z`), then `up_x` along x.
#[derive(Debug)]
pub(crate) struct Separable {
    coarse: Array3<f64>,
    up_y: Banded,
    up_x: Banded,
    /// `up_x` as (first input, four weights) per output sample, when every row has four taps.
    taps4: Option<Vec<(usize, [f64; 4])>>,
}

impl Separable {
    pub(crate) fn new(coarse: Array3<f64>, up_y: Banded, up_x: Banded) -> Self {
        let coarse = if coarse.t().is_standard_layout() { coarse } else { to_fortran(coarse.view()) };
        debug_assert_eq!((up_x.in_len, up_y.in_len), (coarse.shape()[0], coarse.shape()[1]));
        let taps4 = up_x
            .rows
            .iter()
            .map(|&(start, offset, len)| {
                (len == 4).then(|| {
                    let w = &up_x.weights[offset..offset + 4];
                    (start, [w[0], w[1], w[2], w[3]])
                })
            })
            .collect();
        Separable { coarse, up_y, up_x, taps4 }
    }

    /// Writes every row of an `[nx, ny, nz]` grid into `out` (Fortran order).
    pub(crate) fn fill(&self, nx: usize, ny: usize, out: &mut [f32]) {
        if nx * ny == 0 {
            return;
        }
        out.par_chunks_mut(nx * ny).enumerate().for_each(|(z, slab)| {
            for (y, row) in slab.chunks_exact_mut(nx).enumerate() {
                self.row(y, z, row);
            }
        });
    }

    /// Writes row `(y, z)` (`nx` values).
    pub(crate) fn row(&self, y: usize, z: usize, out: &mut [f32]) {
        let [hx, hy] = [self.coarse.shape()[0], self.coarse.shape()[1]];
        let src = self.coarse.as_slice_memory_order().expect("kept in Fortran order");
        let slab = &src[z * hx * hy..(z + 1) * hx * hy];
        let mut stack = [0.0f64; 512];
        let mut heap = Vec::new();
        let line: &mut [f64] = if hx <= stack.len() {
            &mut stack[..hx]
        } else {
            heap.resize(hx, 0.0);
            &mut heap
        };
        let (start, offset, len) = self.up_y.rows[y];
        for (k, &w) in self.up_y.weights[offset..offset + len].iter().enumerate() {
            let coarse_row = &slab[(start + k) * hx..(start + k + 1) * hx];
            line.iter_mut().zip(coarse_row).for_each(|(l, &c)| *l += w * c);
        }
        if let Some(taps) = &self.taps4 {
            for (o, &(start, w)) in out.iter_mut().zip(taps) {
                let x = &line[start..start + 4];
                *o = (w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + w[3] * x[3]) as f32;
            }
        } else {
            for (o, &(start, offset, len)) in out.iter_mut().zip(&self.up_x.rows) {
                let v: f64 = self.up_x.weights[offset..offset + len]
                    .iter()
                    .zip(&line[start..start + len])
                    .map(|(w, x)| w * x)
                    .sum();
                *o = v as f32;
            }
        }
    }
}

/// A displacement field (`[x, y, z]` grid, in voxels) kept as three separable components
/// (coarse coefficients and two upsampling maps): the resampling core computes each row when
/// it needs it, so the full-size field (200 MB at 256^3) is never written nor read back.
/// Image and label map share one of these.
#[derive(Debug)]
pub(crate) struct SeparableField {
    shape: [usize; 3],
    components: [Separable; 3],
}

impl SeparableField {
    pub(crate) fn new(shape: [usize; 3], components: [Separable; 3]) -> Self {
        SeparableField { shape, components }
    }
}

impl DisplacementField for SeparableField {
    fn shape(&self) -> [usize; 3] {
        self.shape
    }

    fn row(&self, y: usize, z: usize, dx: &mut [f32], dy: &mut [f32], dz: &mut [f32]) {
        self.components[0].row(y, z, dx);
        self.components[1].row(y, z, dy);
        self.components[2].row(y, z, dz);
    }
}

/// Keys' cubic convolution kernel (a = -0.5): interpolating, four taps, no prefilter.
pub(crate) fn keys(t: f64) -> f64 {
    const A: f64 = -0.5;
    let t = t.abs();
    if t <= 1.0 {
        ((A + 2.0) * t - (A + 3.0)) * t * t + 1.0
    } else if t < 2.0 {
        ((A * t - 5.0 * A) * t + 8.0 * A) * t - 4.0 * A
    } else {
        0.0
    }
}

/// The four uniform cubic B-spline weights at fraction `t` in `[0, 1]`, for the coefficients
/// `i - 1 ..= i + 2`.
pub(crate) fn bspline_weights(t: f64) -> [f64; 4] {
    let u = 1.0 - t;
    [
        u * u * u / 6.0,
        (3.0 * t * t * t - 6.0 * t * t + 4.0) / 6.0,
        (-3.0 * t * t * t + 3.0 * t * t + 3.0 * t + 1.0) / 6.0,
        t * t * t / 6.0,
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_interpolates_and_sums_to_one() {
        assert_eq!(keys(0.0), 1.0);
        assert_eq!(keys(1.0), 0.0);
        assert_eq!(keys(2.0), 0.0);
        for t in [0.1, 0.25, 0.5, 0.9] {
            let s = keys(t + 1.0) + keys(t) + keys(1.0 - t) + keys(2.0 - t);
            assert!((s - 1.0).abs() < 1e-12);
            let b: f64 = bspline_weights(t).iter().sum();
            assert!((b - 1.0).abs() < 1e-12);
        }
    }

    #[test]
    fn banded_drops_out_of_range_inputs() {
        let mut m = Banded::new(3);
        m.push_row(-1, [1.0, 2.0, 3.0]);
        m.push_row(2, [1.0, 5.0]);
        let mut out = [0.0; 2];
        m.apply_slice(&[1.0, 10.0, 100.0], &mut out);
        assert_eq!(out, [2.0 + 30.0, 100.0]);
    }
}
