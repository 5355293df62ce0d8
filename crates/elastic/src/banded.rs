//! Separable 1D linear maps (decimation, smoothing, upsampling) applied along one axis of a 3D
//! array. Both field models are built from them: a coarse array is turned into a dense field by
//! three passes, one per axis, each a banded matrix.
//!
//! Every output sample is a fixed sum over a fixed run of inputs, in a fixed order, so the
//! result does not depend on how rayon splits the work.

use ndarray::{Array3, ArrayView3, CowArray, ShapeBuilder};
use rayon::prelude::*;

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

/// The last two passes, slab by slab: `input` is `[hx, hy, nz]` (z already upsampled), `up_y`
/// and `up_x` map `hy -> ny` and `hx -> nx`; `out` is the `[nx, ny, nz]` result in Fortran
/// order, written as f32. One z slab at a time, so the `[hx, ny, nz]` intermediate never
/// exists.
pub(crate) fn upsample_yx_into(input: ArrayView3<'_, f64>, up_y: &Banded, up_x: &Banded, out: &mut [f32]) {
    let [hx, hy, nz] = [input.shape()[0], input.shape()[1], input.shape()[2]];
    let (nx, ny) = (up_x.rows(), up_y.rows());
    debug_assert_eq!((up_x.in_len, up_y.in_len, out.len()), (hx, hy, nx * ny * nz));
    if out.is_empty() {
        return;
    }
    let input = if input.t().is_standard_layout() {
        CowArray::from(input)
    } else {
        CowArray::from(to_fortran(input))
    };
    let src = input.as_slice_memory_order().expect("Fortran-order arrays are contiguous");
    let taps4: Option<Vec<(usize, [f64; 4])>> = up_x
        .rows
        .iter()
        .map(|&(start, offset, len)| {
            (len == 4).then(|| {
                let w = &up_x.weights[offset..offset + 4];
                (start, [w[0], w[1], w[2], w[3]])
            })
        })
        .collect();
    out.par_chunks_mut(nx * ny).zip(src.par_chunks(hx * hy)).for_each_init(
        || vec![0.0f64; hx * ny],
        |tmp, (slab, coarse)| {
            up_y.apply_columns(coarse, hx, tmp);
            for (o, row) in slab.chunks_exact_mut(nx).zip(tmp.chunks_exact(hx)) {
                if let Some(taps) = &taps4 {
                    for (o, &(start, w)) in o.iter_mut().zip(taps) {
                        let x = &row[start..start + 4];
                        *o = (w[0] * x[0] + w[1] * x[1] + w[2] * x[2] + w[3] * x[3]) as f32;
                    }
                } else {
                    for (o, &(start, offset, len)) in o.iter_mut().zip(&up_x.rows) {
                        let v: f64 = up_x.weights[offset..offset + len]
                            .iter()
                            .zip(&row[start..start + len])
                            .map(|(w, x)| w * x)
                            .sum();
                        *o = v as f32;
                    }
                }
            }
        },
    );
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
