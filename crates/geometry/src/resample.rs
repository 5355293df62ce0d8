//! The resampling core: one output grid pulled back through a 4x4 voxel matrix onto the input.
//!
//! Every spatial op ends here. For each output voxel `o`, the input coordinate is
//! `c = M · (o + d(o))` (`M` = [`ResampleSpec::out_to_in`], `d` an optional displacement field),
//! and the input is interpolated there exactly as scipy.ndimage does it (`map_coordinates` /
//! `affine_transform`): order 0 (nearest, rounding half up), 1 (linear) or 3 (cubic B-spline on
//! scipy's prefiltered coefficients), with scipy's boundary modes ([`boundary`]). Label maps are
//! resampled nearest, or by [`Interpolation::Label`]: the arg-max of every label's linearly
//! interpolated one-hot map, computed from the few labels under each window (never one map per
//! label).
//!
//! Output arrays are in Fortran order (x fastest, as NIfTI stores them). Work is split over output
//! z-slices with rayon; every voxel is computed independently, so the bytes do not depend on
//! the number of threads.

pub mod boundary;
pub mod fast;
pub mod spline;

use crate::GeometryError;
use boundary::{AxisRule, FILL, cubic_window, linear_window, nearest_index};
use nalgebra::Matrix4;
use ndarray::{Array3, ArrayView3, CowArray, Ix3, ShapeBuilder};
use rayon::prelude::*;
use voxflow_core::resample::FillRule;
use voxflow_core::volume::stack_frames;
use voxflow_core::{
    BoundaryMode, DisplacementField, Fill, Interpolation, LabelArray, LabelType, ResampleSpec, Volume,
    Voxels, map_labels,
};

/// scipy pads the input by this many samples before prefiltering for the `nearest` and
/// `grid-constant` modes (`_prepad_for_spline_filter`).
const SPLINE_PAD: usize = 12;

/// The spline order of an interpolation, for images (`Label` counts as linear).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Nearest,
    Linear,
    Cubic,
}

impl Order {
    #[must_use]
    pub fn of(interpolation: Interpolation) -> Self {
        match interpolation {
            Interpolation::Nearest => Order::Nearest,
            Interpolation::Linear | Interpolation::Label => Order::Linear,
            Interpolation::Cubic => Order::Cubic,
        }
    }

    /// From scipy's `order` (0, 1 or 3).
    #[must_use]
    pub fn from_scipy(order: u8) -> Option<Self> {
        match order {
            0 => Some(Order::Nearest),
            1 => Some(Order::Linear),
            3 => Some(Order::Cubic),
            _ => None,
        }
    }
}

/// The resolution [`snap_voxel_matrix`] rounds to: 2^-20 of a voxel.
const SNAP_GRID: f64 = (1u64 << 20) as f64;

/// A voxel matrix with its rounding noise removed: an entry within 1e-11 (relative) of a
/// multiple of 2^-20 becomes that multiple. A matrix composed from an oblique affine and its
/// inverse carries ~1e-15 of rounding, so an identity comes out as `1 - 1e-16` on the diagonal
/// and `1e-13` elsewhere; snapped, identities, integer shifts, flips and zooms by simple
/// ratios are exact again, so they are recognised (and integer coordinates stay integers,
/// which decides order-0 rounding ties exactly as on an axis-aligned volume). Any other entry
/// moves by at most 1e-11 of its size, far below what interpolation can show.
#[must_use]
pub fn snap_voxel_matrix(m: &Matrix4<f64>) -> Matrix4<f64> {
    m.map(|v| {
        let snapped = (v * SNAP_GRID).round() / SNAP_GRID;
        if (v - snapped).abs() <= 1e-11 * v.abs().max(1.0) { snapped } else { v }
    })
}

/// Resamples every frame of a volume; the output has `spec.affine` and `spec.shape`. Label
/// maps keep their type and use nearest unless `spec.interpolation` is `Label`.
pub fn resample_volume(volume: &Volume, spec: &ResampleSpec) -> Result<Volume, GeometryError> {
    check_spec(spec)?;
    let [.., frames] = volume.shape4();
    voxflow_core::memory::check_buffer(&[spec.shape[0], spec.shape[1], spec.shape[2], frames], 4)
        .map_err(|e| GeometryError::param("shape", e.to_string()))?;
    // A chain that composes to the identity on the same grid (within rounding) moves nothing:
    // the voxels are copied as they are, whatever the interpolation.
    if spec.field.is_none()
        && spec.shape == volume.shape3()
        && snap_voxel_matrix(&spec.out_to_in) == Matrix4::identity()
    {
        return Ok(Volume {
            voxels: volume.voxels.clone(),
            affine: spec.affine,
            stored_dtype: volume.stored_dtype,
        });
    }
    let voxels = match &volume.voxels {
        Voxels::Image(data) => {
            let cval = match spec.fill {
                Fill::Value(v) => v,
                Fill::Rule(FillRule::Minimum) => finite_min(data.iter().copied()),
            };
            let order = Order::of(spec.interpolation);
            let frames: Vec<Array3<f32>> = data
                .axis_iter(ndarray::Axis(3))
                .map(|frame| {
                    transform_image(
                        frame,
                        &spec.out_to_in,
                        spec.field.as_deref(),
                        spec.shape,
                        order,
                        spec.mode,
                        cval,
                    )
                })
                .collect();
            Voxels::Image(stack_frames(&frames))
        }
        Voxels::Label(labels) => Voxels::Label(resample_label_array(labels, spec)?),
    };
    Ok(Volume { voxels, affine: spec.affine, stored_dtype: volume.stored_dtype })
}

fn resample_label_array(labels: &LabelArray, spec: &ResampleSpec) -> Result<LabelArray, GeometryError> {
    Ok(map_labels!(labels, |data: T| {
        let fill: T = match spec.fill {
            Fill::Value(v) => {
                if v.fract() != 0.0 || !v.is_finite() {
                    return Err(GeometryError::param("label_fill", format!("{v} is not an integer label")));
                }
                T::from_i128(v as i128).ok_or_else(|| {
                    GeometryError::param(
                        "label_fill",
                        format!("{v} does not fit the label type {}", T::DTYPE),
                    )
                })?
            }
            Fill::Rule(FillRule::Minimum) => data.iter().copied().min().unwrap_or_default(),
        };
        let frames: Vec<Array3<T>> = data
            .axis_iter(ndarray::Axis(3))
            .map(|frame| {
                transform_labels(
                    frame,
                    &spec.out_to_in,
                    spec.field.as_deref(),
                    spec.shape,
                    spec.interpolation,
                    spec.mode,
                    fill,
                )
            })
            .collect();
        stack_frames(&frames)
    }))
}

fn check_spec(spec: &ResampleSpec) -> Result<(), GeometryError> {
    if spec.shape.contains(&0) {
        return Err(GeometryError::param(
            "shape",
            format!("output shape {:?} has an empty axis", spec.shape),
        ));
    }
    if spec.out_to_in.iter().any(|v| !v.is_finite()) {
        return Err(GeometryError::param("matrix", "the voxel matrix has non-finite entries"));
    }
    if let Some(field) = &spec.field
        && field.shape() != spec.shape
    {
        return Err(GeometryError::param(
            "field",
            format!("displacement field grid {:?} is not the output grid {:?}", field.shape(), spec.shape),
        ));
    }
    Ok(())
}

/// The smallest non-NaN value (0 for an empty or all-NaN input).
fn finite_min(values: impl Iterator<Item = f32>) -> f64 {
    let min = values.filter(|v| !v.is_nan()).fold(f32::INFINITY, f32::min);
    if min.is_finite() || min == f32::NEG_INFINITY { f64::from(min) } else { 0.0 }
}

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

/// Fills an output grid (Fortran order) with `sample(input coordinate)`, in parallel over
/// z-slices.
fn fill_grid<T: Copy + Send + Sync + Default>(
    shape: [usize; 3],
    m: &Matrix4<f64>,
    field: Option<&dyn DisplacementField>,
    sample: impl Fn([f64; 3]) -> T + Sync,
) -> Array3<T> {
    let [nx, ny, nz] = shape;
    let mut out = voxflow_core::memory::new_array(shape);
    if nx * ny * nz == 0 {
        return out;
    }
    let field = field.filter(|f| f.shape() == shape);
    let slice = out.as_slice_memory_order_mut().expect("a fresh Fortran-order array is contiguous");
    slice.par_chunks_mut(nx * ny).enumerate().for_each_init(
        || FieldRow::new(nx),
        |d, (z, plane)| {
            let zf = z as f64;
            for (y, row) in plane.chunks_mut(nx).enumerate() {
                let yf = y as f64;
                if let Some(field) = field {
                    d.read(field, y, z);
                    for (x, dst) in row.iter_mut().enumerate() {
                        let p =
                            [x as f64 + f64::from(d.x[x]), yf + f64::from(d.y[x]), zf + f64::from(d.z[x])];
                        let c = std::array::from_fn(|a| {
                            m[(a, 3)] + m[(a, 0)] * p[0] + m[(a, 1)] * p[1] + m[(a, 2)] * p[2]
                        });
                        *dst = sample(c);
                    }
                } else {
                    // scipy's order of operations (offset, then x, y, z terms), so coordinates
                    // that land exactly on an edge or a rounding tie fall the same way.
                    let cy: [f64; 3] = std::array::from_fn(|a| m[(a, 1)] * yf);
                    let cz: [f64; 3] = std::array::from_fn(|a| m[(a, 2)] * zf);
                    for (x, dst) in row.iter_mut().enumerate() {
                        let xf = x as f64;
                        *dst = sample(std::array::from_fn(|a| m[(a, 3)] + m[(a, 0)] * xf + cy[a] + cz[a]));
                    }
                }
            }
        },
    );
    out
}

/// One output row's displacements, a buffer per worker.
struct FieldRow {
    x: Vec<f32>,
    y: Vec<f32>,
    z: Vec<f32>,
}

impl FieldRow {
    fn new(nx: usize) -> Self {
        FieldRow { x: vec![0.0; nx], y: vec![0.0; nx], z: vec![0.0; nx] }
    }

    fn read(&mut self, field: &dyn DisplacementField, y: usize, z: usize) {
        field.row(y, z, &mut self.x, &mut self.y, &mut self.z);
    }
}

/// An image resample with a displacement field (linear, or cubic on coefficients padded by
/// `pad`): every voxel whose window lies inside takes the fast path ([`fast::Grid::linear_many`],
/// [`fast::Grid::cubic_at`]); the others (near or past the border) call
/// `slow` at the unpadded coordinate.
fn fill_field_rows<const CUBIC: bool>(
    shape: [usize; 3],
    m: &Matrix4<f64>,
    field: Option<&dyn DisplacementField>,
    g: &fast::Grid<'_>,
    pad: f64,
    slow: &(dyn Fn([f64; 3]) -> f32 + Sync),
) -> Array3<f32> {
    let [nx, ny, nz] = shape;
    let Some(field) = field.filter(|f| f.shape() == shape) else {
        return fill_grid(shape, m, None, slow);
    };
    let mut out = voxflow_core::memory::new_array(shape);
    if nx * ny * nz == 0 {
        return out;
    }
    // The fast path's coordinates are in the (padded) coefficient grid.
    let rows: [[f64; 4]; 3] =
        std::array::from_fn(|a| std::array::from_fn(|k| m[(a, k)] + if k == 3 { pad } else { 0.0 }));
    let slice = out.as_slice_memory_order_mut().expect("a fresh Fortran-order array is contiguous");
    slice.par_chunks_mut(nx * ny).enumerate().for_each_init(
        || (FieldRow::new(nx), [vec![0.0f64; nx], vec![0.0f64; nx], vec![0.0f64; nx]]),
        |(d, c), (z, plane)| {
            let zf = z as f64;
            for (y, row) in plane.chunks_mut(nx).enumerate() {
                let yf = y as f64;
                d.read(field, y, z);
                // The coordinates of the whole row first: a loop the compiler vectorises.
                // In the general path's order of operations (offset, then x, y, z terms), so a
                // point on an edge falls the same way with a zero field as without one.
                for (a, ca) in c.iter_mut().enumerate() {
                    let r = rows[a];
                    for ((((x, ca), &dx), &dy), &dz) in
                        ca.iter_mut().enumerate().zip(&d.x).zip(&d.y).zip(&d.z)
                    {
                        let p = [x as f64 + f64::from(dx), yf + f64::from(dy), zf + f64::from(dz)];
                        *ca = r[3] + r[0] * p[0] + r[1] * p[1] + r[2] * p[2];
                    }
                }
                if CUBIC {
                    for (((dst, &cx), &cy), &cz) in row.iter_mut().zip(&c[0]).zip(&c[1]).zip(&c[2]) {
                        let at = [cx, cy, cz];
                        *dst = match g.cubic_at(at) {
                            Some(v) => v,
                            None => slow(at.map(|v| v - pad)),
                        };
                    }
                } else {
                    g.linear_many(&c[0], &c[1], &c[2], row, |i| slow([c[0][i], c[1][i], c[2][i]]));
                }
            }
        },
    );
    out
}

/// Like [`fill_grid`] for images without a displacement field: `row(base, step, [x, y, z], out)`
/// fills the output row segment starting at voxel `[x, y, z]`, whose input coordinates are
/// `base + i · step`.
///
/// The output is filled in 3D tiles ([`TILE_X`] x [`TILE_Y`] x [`TILE_Z`]), in parallel over
/// slabs of [`TILE_Z`] z-slices: an oblique row wanders across many input lines and planes,
/// and the other rows of its tile read nearly the same ones, still in cache.
fn fill_rows(
    shape: [usize; 3],
    m: &Matrix4<f64>,
    row: impl Fn([f64; 3], [f64; 3], [usize; 3], &mut [f32]) + Sync,
) -> Array3<f32> {
    let [nx, ny, nz] = shape;
    let mut out = voxflow_core::memory::new_array(shape);
    if nx * ny * nz == 0 {
        return out;
    }
    let step: [f64; 3] = std::array::from_fn(|a| m[(a, 0)]);
    let slice = out.as_slice_memory_order_mut().expect("a fresh Fortran-order array is contiguous");
    slice.par_chunks_mut(nx * ny * TILE_Z).enumerate().for_each(|(zb, slab)| {
        let z0 = zb * TILE_Z;
        for y0 in (0..ny).step_by(TILE_Y) {
            for x0 in (0..nx).step_by(TILE_X) {
                let x1 = (x0 + TILE_X).min(nx);
                let xf = x0 as f64;
                for (dz, plane) in slab.chunks_mut(nx * ny).enumerate() {
                    let z = z0 + dz;
                    let zf = z as f64;
                    for (y, out_row) in plane.chunks_mut(nx).enumerate().skip(y0).take(TILE_Y) {
                        let yf = y as f64;
                        let base: [f64; 3] = std::array::from_fn(|a| {
                            m[(a, 3)] + m[(a, 0)] * xf + m[(a, 1)] * yf + m[(a, 2)] * zf
                        });
                        row(base, step, [x0, y, z], &mut out_row[x0..x1]);
                    }
                }
            }
        }
    });
    out
}

/// The output tile of [`fill_rows`] (x, y, z): an oblique transform reads an input block of
/// about the same size, ~150 KB, which stays in the L2 cache while the tile is filled (whole
/// z-planes read several MB of input, which the next plane reads again from L3 or memory).
const TILE_X: usize = 64;
const TILE_Y: usize = 32;
const TILE_Z: usize = 8;

/// Fills a row segment starting at output voxel `[x0, y, z]`: the interior with `fast`
/// (returns how many it filled), the rest with `slow` (the general path at scipy's coordinate).
fn split_row(
    m: &Matrix4<f64>,
    base: [f64; 3],
    step: [f64; 3],
    [x0, y, z]: [usize; 3],
    lo: [f64; 3],
    hi: [f64; 3],
    out: &mut [f32],
    fill_outside: Option<(f32, [f64; 3])>,
    fast: impl Fn([f64; 3], [f64; 3], usize, &mut [f32]) -> usize,
    slow: impl Fn([f64; 3]) -> f32,
) {
    let n = out.len();
    let (i0, i1) = fast::interior(base, step, lo, hi, n);
    let done = if i1 > i0 { i0 + fast(base, step, i0, &mut out[i0..i1]) } else { 0 };
    // scipy's coordinate (offset, then x, y, z terms), for the general path.
    let cy: [f64; 3] = std::array::from_fn(|a| m[(a, 1)] * y as f64);
    let cz: [f64; 3] = std::array::from_fn(|a| m[(a, 2)] * z as f64);
    let coord = |i: usize| -> [f64; 3] {
        let xf = (x0 + i) as f64;
        std::array::from_fn(|a| m[(a, 3)] + step[a] * xf + cy[a] + cz[a])
    };
    // The fast path filled [s0, s1); the rest of the segment (usually a few voxels near the
    // border, or none) takes the general path.
    let (s0, s1) = if i1 > i0 { (i0, done) } else { (0, 0) };
    if s0 == 0 && s1 == n {
        return;
    }
    // With `constant`, voxels surely outside the input are the fill value, without the general
    // path.
    let (v0, v1) = if let Some((cval, last)) = fill_outside {
        let Some(range) = fast::outer(base, step, [0.0; 3], last, n) else {
            out.fill(cval);
            return;
        };
        range
    } else {
        (0, n)
    };
    for i in (0..s0).chain(s1..n) {
        out[i] = match fill_outside {
            Some((cval, _)) if i < v0 || i >= v1 => cval,
            _ => slow(coord(i)),
        };
    }
}

/// The voxel-space resample of an image (scipy's `affine_transform` with a 4x4 matrix): the
/// kernel behind every image resample.
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

/// Like [`fill_rows`], for in-plane transforms: `fold(z, plane)` prepares a per-thread buffer
/// once per output z-plane, and `row(plane, ...)` fills that plane's rows from it.
fn fill_planes(
    shape: [usize; 3],
    m: &Matrix4<f64>,
    fold: impl Fn(usize, &mut Vec<f32>) + Sync,
    row: impl Fn(&[f32], [f64; 3], [f64; 3], [usize; 3], &mut [f32]) + Sync,
) -> Array3<f32> {
    let [nx, ny, _] = shape;
    let mut out = voxflow_core::memory::new_array(shape);
    if shape.contains(&0) {
        return out;
    }
    let step: [f64; 3] = std::array::from_fn(|a| m[(a, 0)]);
    let slice = out.as_slice_memory_order_mut().expect("a fresh Fortran-order array is contiguous");
    slice.par_chunks_mut(nx * ny).enumerate().for_each_init(Vec::new, |folded, (z, plane)| {
        fold(z, folded);
        let zf = z as f64;
        for (y, out_row) in plane.chunks_mut(nx).enumerate() {
            let yf = y as f64;
            let base: [f64; 3] = std::array::from_fn(|a| m[(a, 3)] + m[(a, 1)] * yf + m[(a, 2)] * zf);
            row(folded, base, step, [0, y, z], out_row);
        }
    });
    out
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

/// Linear interpolation at `c`; `None` when the point takes the fill value.
#[inline]
fn sample_linear(data: &[f32], axes: &[AxisRule; 3], c: [f64; 3], cval: f64) -> Option<f32> {
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
fn sample_cubic(data: &[f32], axes: &[AxisRule; 3], c: [f64; 3], cval: f64, pad: f64) -> Option<f32> {
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

/// The voxel-space resample of a label frame.
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

/// The voxel nearest to input coordinate `c` under the boundary rules, or `fill` outside.
/// Shared by images (order 0) and label maps (nearest).
#[inline]
fn sample_nearest<T: Copy>(data: &[T], axes: &[AxisRule; 3], c: [f64; 3], fill: T) -> T {
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
fn sample_one_hot<T: LabelType>(data: &[T], axes: &[AxisRule; 3], c: [f64; 3], fill: T) -> T {
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
