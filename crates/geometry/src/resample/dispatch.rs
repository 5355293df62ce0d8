//! The kernels behind every resample: [`transform_image`] and [`transform_labels`] prepare the
//! input (contiguous buffer, boundary rules, cubic coefficients) and choose the fill driver and
//! the row kernels from the interpolation order and the class of the voxel map.

use super::boundary::AxisRule;
use super::drive::{fill_field_rows, fill_grid, fill_planes, fill_rows, split_row};
use super::sample::{sample_cubic, sample_linear, sample_nearest, sample_one_hot};
use super::{Order, fast, snap_voxel_matrix, spline};
use nalgebra::Matrix4;
use ndarray::{Array3, ArrayView3, CowArray, Ix3, ShapeBuilder};
use voxflow_core::{BoundaryMode, DisplacementField, Interpolation, LabelType};

/// scipy pads the input by this many samples before prefiltering for the `nearest` and
/// `grid-constant` modes (`_prepad_for_spline_filter`).
const SPLINE_PAD: usize = 12;

/// The input as a buffer with non-negative strides (a view when it already is one, else a
/// Fortran-order copy).
fn contiguous<T: Clone>(input: ArrayView3<'_, T>) -> CowArray<'_, T, Ix3> {
    if input.as_slice_memory_order().is_some() && input.strides().iter().all(|&s| s >= 0) {
        CowArray::from(input)
    } else {
        let mut owned = Array3::from_elem(input.raw_dim().f(), input[[0, 0, 0]].clone());
        owned.assign(&input);
        CowArray::from(owned)
    }
}

/// The fast path's view of an input buffer.
fn grid_of<'a>(src: &'a CowArray<'_, f32, Ix3>) -> fast::Grid<'a> {
    let sh = src.shape();
    let st = src.strides();
    fast::Grid {
        data: src.as_slice_memory_order().expect("contiguous"),
        shape: [sh[0], sh[1], sh[2]],
        strides: [st[0] as usize, st[1] as usize, st[2] as usize],
    }
}

/// The three axis rules of an input buffer.
fn rules<T>(input: &CowArray<'_, T, Ix3>, mode: BoundaryMode) -> [AxisRule; 3] {
    let shape = input.shape();
    let strides = input.strides();
    std::array::from_fn(|a| AxisRule { len: shape[a], stride: strides[a], mode })
}

/// The voxel-space resample of an image (scipy's `affine_transform` with a 4x4 matrix): the
/// kernel behind every image resample. Output voxel `o` reads input coordinate
/// `out_to_in · (o + field(o))`; the output is in Fortran order.
///
/// ```
/// use nalgebra::{Matrix4, Vector3};
/// use voxflow_core::BoundaryMode::Constant;
/// use voxflow_geometry::resample::{Order, transform_image};
/// let input = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
/// let half_voxel = Matrix4::new_translation(&Vector3::new(0.5, 0.0, 0.0));
/// let out = transform_image(input.view(), &half_voxel, None, [3, 4, 4], Order::Linear, Constant, 0.0);
/// assert_eq!(out[[0, 0, 0]], 0.5); // halfway between input voxels 0 and 1
/// ```
#[must_use]
pub fn transform_image(
    input: ArrayView3<f32>,
    out_to_in: &Matrix4<f64>,
    field: Option<&dyn DisplacementField>,
    shape: [usize; 3],
    order: Order,
    mode: BoundaryMode,
    cval: f64,
) -> Array3<f32> {
    if input.is_empty() {
        return Array3::from_elem(shape.f(), cval as f32);
    }
    let snapped = snap_voxel_matrix(out_to_in);
    let out_to_in = &snapped;
    let cval32 = cval as f32;
    let last: [f64; 3] = std::array::from_fn(|a| input.shape()[a] as f64 - 1.0);
    let fill_outside = (mode == BoundaryMode::Constant).then_some((cval32, last));
    match order {
        Order::Nearest => {
            let src = contiguous(input);
            let axes = rules(&src, mode);
            let data = src.as_slice_memory_order().expect("contiguous");
            fill_grid(shape, out_to_in, field, |c| sample_nearest(data, &axes, c, cval32))
        }
        Order::Linear => {
            let src = contiguous(input);
            let axes = rules(&src, mode);
            let data = src.as_slice_memory_order().expect("contiguous");
            let g = grid_of(&src);
            if field.is_some() {
                let slow = |c: [f64; 3]| sample_linear(data, &axes, c, cval).unwrap_or(cval32);
                return fill_field_rows::<false>(shape, out_to_in, field, &g, 0.0, &slow);
            }
            let hi = g.shape.map(|n| n as f64 - 1.0);
            fill_rows(shape, out_to_in, |base, step, at, out| {
                split_row(
                    out_to_in,
                    base,
                    step,
                    at,
                    [0.0; 3],
                    hi,
                    out,
                    fill_outside,
                    |b, s, x0, o| fast::linear_row(&g, b, s, x0, o),
                    |c| sample_linear(data, &axes, c, cval).unwrap_or(cval32),
                );
            })
        }
        Order::Cubic => {
            let (coeffs, pad) = cubic_coefficients(input, mode, cval);
            let axes = rules(&CowArray::from(coeffs.view()), mode);
            let data = coeffs.as_slice_memory_order().expect("coefficients are contiguous");
            let pad = pad as f64;
            let slow = |c: [f64; 3]| {
                sample_cubic(data, &axes, [c[0] + pad, c[1] + pad, c[2] + pad], cval, pad).unwrap_or(cval32)
            };
            let cow = CowArray::from(coeffs.view());
            let g = grid_of(&cow);
            if field.is_some() {
                return fill_field_rows::<true>(shape, out_to_in, field, &g, pad, &slow);
            }
            // The window [floor(c) - 1, floor(c) + 2] inside: 1 <= c + pad < n - 2.
            let lo = [1.0 - pad; 3];
            let hi = g.shape.map(|n| n as f64 - 2.0 - pad);
            let shifted = |b: [f64; 3]| [b[0] + pad, b[1] + pad, b[2] + pad];
            if let Some(dz) = in_plane(out_to_in, &g) {
                // Every output plane z reads input plane z + dz at an integer coordinate, where
                // the z weights are (1/6, 4/6, 1/6): fold the three coefficient planes into
                // one per output plane, and interpolate in 2D (16 terms a voxel, not 48).
                let [cnx, cny, cnz] = g.shape;
                let fold = |z: usize, plane: &mut Vec<f32>| {
                    let iz = z as f64 + dz + pad;
                    plane.clear();
                    if iz < 1.0 || iz > cnz as f64 - 3.0 {
                        return; // no interior on this plane: every voxel takes the general path
                    }
                    let iz = iz as usize;
                    let w = fast::weights(0.0);
                    let at = |k: usize| &g.data[k * cnx * cny..][..cnx * cny];
                    let (a, b, c) = (at(iz - 1), at(iz), at(iz + 1));
                    plane.extend(a.iter().zip(b).zip(c).map(|((a, b), c)| w[0] * a + w[1] * b + w[2] * c));
                };
                return fill_planes(shape, out_to_in, fold, |plane, base, step, at, out| {
                    split_row(
                        out_to_in,
                        base,
                        step,
                        at,
                        lo,
                        hi,
                        out,
                        fill_outside,
                        |b, s, x0, o| fast::cubic_row_planar(plane, [cnx, cny], shifted(b), s, x0, o),
                        slow,
                    );
                });
            }
            fill_rows(shape, out_to_in, |base, step, at, out| {
                split_row(
                    out_to_in,
                    base,
                    step,
                    at,
                    lo,
                    hi,
                    out,
                    fill_outside,
                    |b, s, x0, o| fast::cubic_row(&g, shifted(b), s, x0, o),
                    slow,
                );
            })
        }
    }
}

/// When every output z-plane maps to one input z-plane (an in-plane transform of contiguous
/// Fortran-order coefficients): the integer offset `dz` from output to input plane.
fn in_plane(m: &Matrix4<f64>, g: &fast::Grid<'_>) -> Option<f64> {
    let [nx, ny, _] = g.shape;
    let planar = m[(2, 0)] == 0.0 && m[(2, 1)] == 0.0 && m[(2, 2)] == 1.0 && m[(2, 3)].fract() == 0.0;
    (planar && g.strides == [1, nx, nx * ny]).then_some(m[(2, 3)])
}

/// scipy's prefilter for `map_coordinates`: the input padded by 12 for `nearest` (edge) and
/// `grid-constant` (the fill value), then filtered.
fn cubic_coefficients(input: ArrayView3<f32>, mode: BoundaryMode, cval: f64) -> (Array3<f32>, usize) {
    match mode {
        BoundaryMode::Nearest | BoundaryMode::GridConstant => {
            let p = SPLINE_PAD;
            let [nx, ny, nz] = [input.shape()[0], input.shape()[1], input.shape()[2]];
            let shape = [nx + 2 * p, ny + 2 * p, nz + 2 * p];
            let mut padded = Array3::from_elem(shape.f(), cval as f32);
            let clampi = |i: usize, n: usize| i.saturating_sub(p).min(n - 1);
            if mode == BoundaryMode::Nearest {
                ndarray::Zip::indexed(&mut padded).par_for_each(|(x, y, z), v| {
                    *v = input[[clampi(x, nx), clampi(y, ny), clampi(z, nz)]];
                });
            } else {
                padded.slice_mut(ndarray::s![p..p + nx, p..p + ny, p..p + nz]).assign(&input);
            }
            spline::prefilter_in_place(
                &mut padded,
                if mode == BoundaryMode::Nearest { BoundaryMode::Reflect } else { BoundaryMode::Mirror },
            );
            (padded, p)
        }
        _ => (spline::prefilter(input, mode), 0),
    }
}

/// The voxel-space resample of a label frame: `interpolation` is `Nearest`, or `Label` (the
/// arg-max of the linearly interpolated one-hot maps); either way no new label value appears.
///
/// ```
/// use nalgebra::Matrix4;
/// use voxflow_core::{BoundaryMode::Constant, Interpolation::Label};
/// use voxflow_geometry::resample::transform_labels;
/// let labels = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, _, _)| if i < 2 { 1u8 } else { 2 });
/// let mut flip_x = Matrix4::identity();
/// (flip_x[(0, 0)], flip_x[(0, 3)]) = (-1.0, 3.0); // output x reads input 3 - x
/// let out = transform_labels(labels.view(), &flip_x, None, [4, 4, 4], Label, Constant, 0);
/// assert_eq!((out[[0, 0, 0]], out[[3, 0, 0]]), (2, 1));
/// ```
#[must_use]
pub fn transform_labels<T: LabelType>(
    input: ArrayView3<T>,
    out_to_in: &Matrix4<f64>,
    field: Option<&dyn DisplacementField>,
    shape: [usize; 3],
    interpolation: Interpolation,
    mode: BoundaryMode,
    fill: T,
) -> Array3<T> {
    if input.is_empty() {
        return Array3::from_elem(shape.f(), fill);
    }
    let snapped = snap_voxel_matrix(out_to_in);
    let out_to_in = &snapped;
    let src = contiguous(input);
    let axes = rules(&src, mode);
    let data = src.as_slice_memory_order().expect("contiguous");
    if interpolation == Interpolation::Label {
        fill_grid(shape, out_to_in, field, |c| sample_one_hot(data, &axes, c, fill))
    } else {
        fill_grid(shape, out_to_in, field, |c| sample_nearest(data, &axes, c, fill))
    }
}
