//! The vocabulary of resampling, shared by every spatial op, and the deferred resample that
//! lets a chain of spatial ops run as one.
//!
//! voxflow has one resampling core (in `voxflow-geometry`). A spatial op does not resample by
//! itself when it is part of a graph: it returns a [`Deferred`] value, the source volume plus a
//! [`ResampleSpec`] (output grid and the matrix that pulls output voxels back onto the source).
//! The next spatial op composes its own matrix into the spec; the first consumer that needs
//! voxels (an intensity op, `save`) triggers one resample.

use crate::{Affine, Volume};
use ndarray::Array4;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How values between voxel centres are computed (scipy.ndimage's `order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Interpolation {
    /// scipy order 0. The default for label maps.
    Nearest,
    /// scipy order 1.
    #[default]
    Linear,
    /// scipy order 3: cubic B-spline with scipy's prefilter.
    Cubic,
    /// For label maps: each label's one-hot map interpolated linearly, then the arg-max.
    /// Smoother boundaries than nearest, and still never a new label value.
    Label,
}

/// What lies outside the input grid (scipy.ndimage's `mode`, same names and semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "kebab-case")]
pub enum BoundaryMode {
    /// scipy `constant`: the fill value outside; interpolation near the edge as scipy does it.
    #[default]
    Constant,
    /// scipy `grid-constant`: the fill value outside, and inside the interpolation also sees
    /// the fill value beyond the edge.
    GridConstant,
    /// scipy `nearest`: the edge voxel repeated.
    Nearest,
    /// scipy `reflect`: half-sample symmetric (d c b a | a b c d | d c b a).
    Reflect,
    /// scipy `mirror`: whole-sample symmetric (d c b | a b c d | c b a).
    Mirror,
    /// scipy `wrap` (kept with scipy's own quirk at the edge).
    Wrap,
    /// scipy `grid-wrap`: periodic.
    GridWrap,
}

/// The value used outside the input (with the constant modes).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Fill {
    /// A fixed value (for label maps: the label to fill with, e.g. 0, or 255 / -1 for "ignore").
    Value(f64),
    /// A named rule: `"minimum"`, the image's minimum (air around a head is not 0).
    Rule(FillRule),
}

impl Default for Fill {
    fn default() -> Self {
        Fill::Value(0.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FillRule {
    Minimum,
}

/// A displacement on an output grid, in output voxel units, read one output row at a time.
///
/// The resampling core asks for the rows it is about to fill, so a field that is defined by a
/// few coarse coefficients (every elastic model) never has to exist at full size: a dense
/// 256^3 field is 200 MB to write and read back. A dense array `[x, y, z, 3]` is a field too.
pub trait DisplacementField: Send + Sync + std::fmt::Debug {
    /// The grid `[x, y, z]` the field is defined on.
    fn shape(&self) -> [usize; 3];

    /// Writes the x, y and z displacements of output row `(y, z)`; each slice is `shape[0]`
    /// long.
    fn row(&self, y: usize, z: usize, dx: &mut [f32], dy: &mut [f32], dz: &mut [f32]);
}

/// The field as a dense array `[x, y, z, 3]` (Fortran order), row by row, z-slices in
/// parallel: for tests, inspection and callers that want the whole field.
#[must_use]
pub fn dense_field(field: &dyn DisplacementField) -> Array4<f32> {
    use ndarray::parallel::prelude::*;
    use ndarray::{Axis, ShapeBuilder};
    let [nx, ny, nz] = field.shape();
    let mut dense = Array4::zeros((nx, ny, nz, 3).f());
    if nx * ny * nz == 0 {
        return dense;
    }
    dense.axis_iter_mut(Axis(2)).into_par_iter().enumerate().for_each(|(z, mut slab)| {
        let (mut dx, mut dy, mut dz) = (vec![0.0; nx], vec![0.0; nx], vec![0.0; nx]);
        for y in 0..ny {
            field.row(y, z, &mut dx, &mut dy, &mut dz);
            for (c, row) in [&dx, &dy, &dz].into_iter().enumerate() {
                slab.slice_mut(ndarray::s![.., y, c]).assign(&ndarray::ArrayView1::from(row.as_slice()));
            }
        }
    });
    dense
}

/// A dense field `[x, y, z, 3]`.
impl DisplacementField for Array4<f32> {
    fn shape(&self) -> [usize; 3] {
        let s = Array4::shape(self);
        [s[0], s[1], s[2]]
    }

    fn row(&self, y: usize, z: usize, dx: &mut [f32], dy: &mut [f32], dz: &mut [f32]) {
        for (c, out) in [dx, dy, dz].into_iter().enumerate() {
            let line = self.slice(ndarray::s![.., y, z, c]);
            match line.as_slice() {
                Some(src) => out.copy_from_slice(src),
                None => out.iter_mut().zip(line).for_each(|(o, &v)| *o = v),
            }
        }
    }
}

/// One resample: the output grid and how each output voxel maps back onto the input.
#[derive(Debug, Clone)]
pub struct ResampleSpec {
    /// Output spatial shape `[x, y, z]`.
    pub shape: [usize; 3],
    /// Output voxel-to-world affine (the input's for augmentations; updated for grid ops).
    pub affine: Affine,
    /// Output voxel index to input voxel index (homogeneous, 4x4): `in = M · out`, the matrix
    /// scipy's `affine_transform` takes (with its offset in the last column).
    pub out_to_in: nalgebra::Matrix4<f64>,
    pub interpolation: Interpolation,
    pub mode: BoundaryMode,
    pub fill: Fill,
    /// An optional displacement on the output grid, in output voxel units,
    /// added before `out_to_in`: `in = M · (out + d(out))`. Elastic deformation uses it.
    pub field: Option<Arc<dyn DisplacementField>>,
}

/// Specs are equal when everything but the field is equal and they share the same field (or
/// neither has one): fields are compared by identity, not voxel by voxel.
impl PartialEq for ResampleSpec {
    fn eq(&self, other: &Self) -> bool {
        let same_field = match (&self.field, &other.field) {
            (None, None) => true,
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        };
        same_field
            && self.shape == other.shape
            && self.affine == other.affine
            && self.out_to_in == other.out_to_in
            && self.interpolation == other.interpolation
            && self.mode == other.mode
            && self.fill == other.fill
    }
}

impl ResampleSpec {
    /// The identity on `volume`'s grid, with the given interpolation settings.
    #[must_use]
    pub fn identity(volume: &Volume, interpolation: Interpolation, mode: BoundaryMode, fill: Fill) -> Self {
        ResampleSpec {
            shape: volume.shape3(),
            affine: volume.affine,
            out_to_in: nalgebra::Matrix4::identity(),
            interpolation,
            mode,
            fill,
            field: None,
        }
    }
}

/// A volume with a resample still to do. What spatial ops hand to each other in a graph.
#[derive(Debug, Clone)]
pub struct Deferred {
    pub source: Arc<Volume>,
    pub spec: ResampleSpec,
}
