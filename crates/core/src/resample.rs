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
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How values between voxel centres are computed (scipy.ndimage's `order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
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

impl Interpolation {
    /// From scipy's spline order (0, 1 or 3).
    #[must_use]
    pub fn from_order(order: u8) -> Option<Self> {
        match order {
            0 => Some(Interpolation::Nearest),
            1 => Some(Interpolation::Linear),
            3 => Some(Interpolation::Cubic),
            _ => None,
        }
    }
}

/// What lies outside the input grid (scipy.ndimage's `mode`, same names and semantics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
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
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FillRule {
    Minimum,
}

/// One resample: the output grid and how each output voxel maps back onto the input.
#[derive(Debug, Clone, PartialEq)]
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
    /// An optional dense displacement on the output grid, `[x, y, z, 3]`, in output voxel units,
    /// added before `out_to_in`: `in = M · (out + d(out))`. Elastic deformation uses it.
    pub field: Option<Arc<Array4<f32>>>,
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
