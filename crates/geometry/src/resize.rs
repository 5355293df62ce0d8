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
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// Factor 1 (the same grid): set `factor` or `shape` (a graph needs one of them).
impl Default for Resize {
    fn default() -> Self {
        Resize { factor: Some(Factor::Isotropic(1.0)), shape: None, grid_mode: false, resampling: Resampling::default() }
    }
}

/// Python's `round` (half to even), as scipy's `zoom` computes its output shape.
fn round_half_even(v: f64) -> f64 {
    v.round_ties_even()
}

/// The output shape of scipy's `zoom(input, factor)`: `round(shape × factor)` (at least 1).
#[must_use]
pub fn zoomed_shape(shape: [usize; 3], factor: [f64; 3]) -> [usize; 3] {
    std::array::from_fn(|a| (round_half_even(shape[a] as f64 * factor[a]) as usize).max(1))
}

/// The voxel matrix (output index to input index) of scipy's zoom between two shapes.
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
    pub fn output_shape(&self, shape: [usize; 3]) -> Result<[usize; 3], GeometryError> {
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
