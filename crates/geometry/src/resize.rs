//! `resize`: resamples the volume onto a coarser or finer grid covering the same anatomy
//! (scipy.ndimage.zoom semantics), and [`zoom`], scipy's voxel-space function.
//!
//! A grid op: the output shape is `round(shape × factor)` (or the target `shape`), and the output
//! affine is updated so the anatomy stays where it is in world space. With `grid_mode: false`
//! (scipy's default) the corner voxel centres are aligned: output voxel `i` is input voxel
//! `i (n_in - 1) / (n_out - 1)`; with `grid_mode: true` the outer edges of the grids are aligned
//! (output voxel `i` is input voxel `(i + 0.5) n_in / n_out - 0.5`). The voxel size changes with
//! the factor.
//!
//! ```json
//! {"name": "half", "op": "resize", "params": {"factor": 0.5}}
//! {"name": "fixed", "op": "resize", "params": {"shape": [128, 128, 64], "interpolation": "cubic"}}
//! ```

use crate::GeometryError;
use crate::resample::transform_image;
use crate::scale::{Factor, check_factor};
use crate::spatial::{self, Resampling, SpatialOp, Step, spatial_op_node};
use nalgebra::Matrix4;
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Affine, BoundaryMode, Op};

/// Resizes by `factor` or to `shape` (exactly one of them).
///
/// ```
/// use nalgebra::Vector4;
/// use voxflow_core::Volume;
/// use voxflow_geometry::{resize::Resize, spatial::SpatialOp};
/// # let volume = Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let resized = Resize { factor: None, shape: Some([4, 5, 6]), ..Default::default() }.apply(&volume)?;
/// assert_eq!(resized.shape3(), [4, 5, 6]);
/// // A grid op: the affine follows, so the world centre of the grid stays where it was.
/// let centre = |v: &Volume| {
///     let [x, y, z] = v.shape3().map(|n| (n as f64 - 1.0) / 2.0);
///     v.affine * Vector4::new(x, y, z, 1.0)
/// };
/// assert!((centre(&resized) - centre(&volume)).norm() < 1e-9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Resize {
    /// The zoom factor, one number or `[x, y, z]` (> 0).
    #[serde(default)]
    pub factor: Option<Factor>,
    /// The target shape `[x, y, z]` (each >= 1).
    #[serde(default)]
    pub shape: Option<[usize; 3]>,
    /// Align the grids' outer edges instead of their corner voxel centres. Default false.
    #[serde(default)]
    pub grid_mode: bool,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// Factor 1 (the same grid): set `factor` or `shape` (a graph needs one of them).
impl Default for Resize {
    fn default() -> Self {
        Resize {
            factor: Some(Factor::Isotropic(1.0)),
            shape: None,
            grid_mode: false,
            resampling: Resampling::default(),
        }
    }
}

/// Python's `round` (half to even), as scipy's `zoom` computes its output shape.
fn round_half_even(v: f64) -> f64 {
    v.round_ties_even()
}

/// The output shape of scipy's `zoom(input, factor)`: `round(shape × factor)` (at least 1),
/// rounding halves to even as Python does. Plumbing shared with intensity's low-resolution
/// simulation.
///
/// ```
/// use voxflow_geometry::resize::zoomed_shape;
/// assert_eq!(zoomed_shape([10, 7, 5], [0.5; 3]), [5, 4, 2]);
/// assert_eq!(zoomed_shape([1, 1, 1], [0.1; 3]), [1, 1, 1]);
/// ```
#[must_use]
pub fn zoomed_shape(shape: [usize; 3], factor: [f64; 3]) -> [usize; 3] {
    std::array::from_fn(|a| (round_half_even(shape[a] as f64 * factor[a]) as usize).max(1))
}

/// The voxel matrix (output index to input index) of scipy's zoom between two shapes.
/// Plumbing shared with intensity's low-resolution simulation.
///
/// ```
/// use nalgebra::{Matrix4, Vector4};
/// use voxflow_geometry::resize::zoom_matrix;
/// // Corner voxel centres aligned: 9 voxels onto 5, every other one.
/// assert_eq!(zoom_matrix([5; 3], [9; 3], false), Matrix4::from_diagonal(&Vector4::new(0.5, 0.5, 0.5, 1.0)));
/// // Outer edges aligned (`grid_mode`): output voxel 0 reads input coordinate -0.25.
/// assert_eq!(zoom_matrix([5; 3], [10; 3], true)[(0, 3)], -0.25);
/// ```
#[must_use]
pub fn zoom_matrix(in_shape: [usize; 3], out_shape: [usize; 3], grid_mode: bool) -> Matrix4<f64> {
    let mut m = Matrix4::identity();
    for a in 0..3 {
        let (nominal, div) = if grid_mode {
            (in_shape[a] as f64, out_shape[a] as f64)
        } else {
            (in_shape[a] as f64 - 1.0, out_shape[a] as f64 - 1.0)
        };
        let z = if div == 0.0 { 1.0 } else { nominal / div };
        m[(a, a)] = z;
        if grid_mode {
            m[(a, 3)] = 0.5 * z - 0.5;
        }
    }
    m
}

/// `scipy.ndimage.zoom(input, factor, order=order, mode=mode, cval=cval, grid_mode=grid_mode)`
/// (with `grid_mode`, `constant` becomes `grid-constant` as in scipy).
///
/// ```
/// use voxflow_core::BoundaryMode;
/// use voxflow_geometry::resize::zoom;
/// let input = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
/// let zoomed = zoom(input.view(), [2.0; 3], 1, BoundaryMode::Constant, 0.0, false)?;
/// assert_eq!(zoomed.shape(), [8, 8, 8]);
/// assert_eq!((zoomed[[0, 0, 0]], zoomed[[7, 7, 7]]), (input[[0, 0, 0]], input[[3, 3, 3]]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn zoom(
    input: ArrayView3<f32>,
    factor: [f64; 3],
    order: u8,
    mode: BoundaryMode,
    cval: f64,
    grid_mode: bool,
) -> Result<Array3<f32>, GeometryError> {
    let order = spatial::scipy_order(order)?;
    check_factor(Factor::PerAxis(factor), "factor")?;
    let s = input.shape();
    let in_shape = [s[0], s[1], s[2]];
    let out_shape = zoomed_shape(in_shape, factor);
    let mode = if grid_mode && mode == BoundaryMode::Constant { BoundaryMode::GridConstant } else { mode };
    Ok(transform_image(
        input,
        &zoom_matrix(in_shape, out_shape, grid_mode),
        None,
        out_shape,
        order,
        mode,
        cval,
    ))
}

impl Resize {
    /// The output shape for an input of `shape`.
    pub(crate) fn output_shape(&self, shape: [usize; 3]) -> Result<[usize; 3], GeometryError> {
        match (self.factor, self.shape) {
            (Some(f), None) => {
                check_factor(f, "factor")?;
                Ok(zoomed_shape(shape, f.per_axis()))
            }
            (None, Some(s)) => {
                if s.contains(&0) {
                    return Err(GeometryError::param("shape", format!("{s:?} has an empty axis")));
                }
                Ok(s)
            }
            _ => Err(GeometryError::param("factor", "give exactly one of `factor` and `shape`")),
        }
    }
}

impl SpatialOp for Resize {
    /// The resize's effect on a grid: the new grid keeps the anatomy in place.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let out = self.output_shape(shape)?;
        spatial::check_grid(out, if self.shape.is_some() { "shape" } else { "factor" })?;
        let m = zoom_matrix(shape, out, self.grid_mode);
        Ok(Step { shape: out, affine: affine * m, out_to_in: m })
    }

    /// The resampling settings (`grid_mode` turns `constant` into `grid-constant`).
    fn settings(&self) -> Resampling {
        let mut r = self.resampling;
        if self.grid_mode && r.mode == BoundaryMode::Constant {
            r.mode = BoundaryMode::GridConstant;
        }
        r
    }

    fn check(&self) -> Result<(), GeometryError> {
        self.output_shape([1, 1, 1])?;
        self.resampling.validate()
    }

    /// `shape` when given; a `factor` of a known shape.
    fn known_shape(&self, input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        match self.shape {
            Some(shape) => Some(shape),
            None => input.and_then(|shape| self.output_shape(shape).ok()),
        }
    }
}

voxflow_core::op_doc!(
    "resize",
    Resize,
    "Resamples to a new shape, by a zoom `factor` or to a target `shape`, covering the same world extent; a grid op: the affine is updated to the new voxel size.",
    r#"{"shape": [64, 64, 64]}"#
);

#[typetag::serde(name = "resize")]
impl Op for Resize {
    spatial_op_node!();
}
