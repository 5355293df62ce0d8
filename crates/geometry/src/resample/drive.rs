//! The fill drivers: how the output grid is walked (3D tiles of rows, planes, rows with a
//! displacement field, or voxel by voxel), in parallel and always in the same voxel order, and
//! how a row is split into its fast interior and its border voxels.

use super::fast;
use nalgebra::Matrix4;
use ndarray::Array3;
use rayon::prelude::*;
use voxflow_core::DisplacementField;

/// Fills an output grid (Fortran order) with `sample(input coordinate)`, in parallel over
/// z-slices.
pub(super) fn fill_grid<T: Copy + Send + Sync + Default>(
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
pub(super) fn fill_field_rows<const CUBIC: bool>(
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
pub(super) fn fill_rows(
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
pub(super) fn split_row(
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

/// Like [`fill_rows`], for in-plane transforms: `fold(z, plane)` prepares a per-thread buffer
/// once per output z-plane, and `row(plane, ...)` fills that plane's rows from it.
pub(super) fn fill_planes(
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
