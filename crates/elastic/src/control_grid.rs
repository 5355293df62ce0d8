//! The TorchIO / batchgenerators-style model: random displacements of a coarse grid of control
//! points, upsampled to every voxel by a cubic B-spline.
//!
//! Along each axis the `m` control points are the coefficients of a uniform cubic B-spline
//! whose `m - 3` intervals span the voxel centres `0 ..= n - 1` (as SimpleITK's
//! `BSplineTransformInitializer` with mesh size `m - 3`, which TorchIO uses): control point `j`
//! sits at voxel `(j - 1) · (n - 1) / (m - 3)`. Each control point gets a displacement drawn
//! uniformly in `[-max_displacement, max_displacement]` millimetres per axis; the
//! `locked_borders` outermost control points on every side are held at zero (TorchIO's
//! default 2 keeps the volume's borders nearly still). The dense field is computed in
//! millimetres and converted to voxels with the volume's spacing along each axis, so an
//! anisotropic volume (e.g. 0.8 x 0.8 x 5 mm) is deformed by the same physical amount along
//! every axis. Unlike TorchIO, the borders are locked along all three axes.
//!
//! The displacements come from the op's seed (ChaCha8, stream 0, control points in Fortran
//! order, x component first), so a manifest line replays the draw.

use crate::banded::{self, Banded, Separable, SeparableField};
use crate::error::ElasticError;
use crate::simard::uniform;
use ndarray::{Array3, Array4, Axis, ShapeBuilder};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Parameters of the control-grid model.
///
/// ```
/// use voxflow_elastic::{ControlGridParams, control_grid_field};
/// let still = ControlGridParams { max_displacement: [0.0; 3], ..Default::default() };
/// assert!(control_grid_field([9, 8, 7], [1.0; 3], &still, 1)?.iter().all(|&d| d == 0.0));
/// let json = r#"{"num_control_points": 5, "max_displacement": [4, 4, 2]}"#;
/// let json: ControlGridParams = serde_json::from_str(json)?;
/// assert_eq!((json.num_control_points, json.locked_borders), ([5; 3], 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ControlGridParams {
    /// Control points per axis (at least 4). Default 7 (TorchIO).
    #[serde(deserialize_with = "voxflow_core::params::one_or_three")]
    #[schemars(with = "voxflow_core::params::OneOrThree<usize>")]
    pub num_control_points: [usize; 3],
    /// Largest displacement of a control point, in millimetres per axis. Default 7.5 (TorchIO).
    #[serde(deserialize_with = "voxflow_core::params::one_or_three")]
    #[schemars(with = "voxflow_core::params::OneOrThree<f64>")]
    pub max_displacement: [f64; 3],
    /// How many control points on each side are held still. Default 2 (TorchIO).
    pub locked_borders: usize,
}

/// TorchIO's defaults: 7 control points and 7.5 mm per axis, 2 locked borders.
impl Default for ControlGridParams {
    fn default() -> Self {
        ControlGridParams { num_control_points: [7; 3], max_displacement: [7.5; 3], locked_borders: 2 }
    }
}

impl ControlGridParams {
    /// Checks the ranges.
    pub(crate) fn validate(&self) -> Result<(), ElasticError> {
        if let Some(m) = self.num_control_points.iter().find(|&&m| !(4..=1024).contains(&m)) {
            return Err(ElasticError::param("num_control_points", format!("must be in 4..=1024, got {m}")));
        }
        if let Some(d) = self.max_displacement.iter().find(|d| !(d.is_finite() && **d >= 0.0)) {
            return Err(ElasticError::param(
                "max_displacement",
                format!("must be finite and >= 0 mm, got {d}"),
            ));
        }
        if self.locked_borders > 2 {
            return Err(ElasticError::param(
                "locked_borders",
                format!("must be 0, 1 or 2 (as TorchIO), got {}", self.locked_borders),
            ));
        }
        Ok(())
    }

    /// True when no control point can move (the field is zero).
    #[must_use]
    pub(crate) fn is_identity(&self) -> bool {
        self.max_displacement.iter().all(|&d| d == 0.0)
            || self.num_control_points.iter().any(|&m| m <= 2 * self.locked_borders)
    }

    /// The control points' displacements in millimetres, `[mx, my, mz, 3]`, drawn from `seed`.
    #[must_use]
    pub(crate) fn coarse_displacements(&self, seed: u64) -> Array4<f64> {
        let [mx, my, mz] = self.num_control_points;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut coarse = Array4::<f64>::zeros((mx, my, mz, 3).f());
        let locked = self.locked_borders;
        for z in 0..mz {
            for y in 0..my {
                for x in 0..mx {
                    for c in 0..3 {
                        let max = self.max_displacement[c];
                        let v = uniform(&mut rng, [-max, max]);
                        // Draw even for locked points, so the stream does not depend on them.
                        let is_locked =
                            [(x, mx), (y, my), (z, mz)].iter().any(|&(i, m)| i < locked || i >= m - locked);
                        coarse[[x, y, z, c]] = if is_locked { 0.0 } else { v };
                    }
                }
            }
        }
        coarse
    }
}

/// The dense field on a grid of `shape` with voxel `spacing` (mm): `[x, y, z, 3]` (Fortran
/// order), in voxels.
///
/// ```
/// use voxflow_elastic::{ControlGridParams, control_grid_field};
/// let params = ControlGridParams::default();
/// let iso = control_grid_field([12, 12, 12], [1.0; 3], &params, 3)?;
/// let coarse_x = control_grid_field([12, 12, 12], [2.0, 1.0, 1.0], &params, 3)?;
/// // The same millimetres are half as many voxels along an axis of 2 mm voxels.
/// let x = ndarray::s![.., .., .., 0];
/// assert!(iso.slice(x).iter().zip(coarse_x.slice(x)).all(|(a, b)| (a / 2.0 - b).abs() < 1e-5));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn control_grid_field(
    shape: [usize; 3],
    spacing: [f64; 3],
    params: &ControlGridParams,
    seed: u64,
) -> Result<Array4<f32>, ElasticError> {
    Ok(voxflow_core::resample::dense_field(&control_grid_separable(shape, spacing, params, seed)?))
}

/// The field on a grid of `shape` with voxel `spacing` (mm), kept coarse (rows computed on
/// demand), in voxels.
pub(crate) fn control_grid_separable(
    shape: [usize; 3],
    spacing: [f64; 3],
    params: &ControlGridParams,
    seed: u64,
) -> Result<SeparableField, ElasticError> {
    params.validate()?;
    if let Some(s) = spacing.iter().find(|s| !(s.is_finite() && **s > 0.0)) {
        return Err(ElasticError::param("spacing", format!("voxel spacing must be positive, got {s} mm")));
    }
    let coarse = params.coarse_displacements(seed);
    let maps: [Banded; 3] = std::array::from_fn(|a| bspline_map(shape[a], params.num_control_points[a]));
    let components = [0, 1, 2].map(|c| {
        let coef: Array3<f64> = coarse.index_axis(Axis(3), c).to_owned();
        let mut up_x = maps[0].clone();
        // Millimetres to voxels along this component's axis.
        up_x.scale(1.0 / spacing[c]);
        let along_z = banded::along(coef.view(), 2, &maps[2]);
        Separable::new(along_z, maps[1].clone(), up_x)
    });
    Ok(SeparableField::new(shape, components))
}

/// Cubic B-spline evaluation at every voxel of an axis of `n` voxels from `m` coefficients.
fn bspline_map(n: usize, m: usize) -> Banded {
    let mut map = Banded::new(m);
    let intervals = (m - 3) as f64;
    for x in 0..n {
        // Parameter u in [1, m - 2]: control point j sits at u = j.
        let u = if n > 1 { 1.0 + x as f64 * intervals / (n - 1) as f64 } else { 1.0 + intervals / 2.0 };
        let i = (u.floor() as usize).min(m - 3);
        let t = u - i as f64;
        map.push_row(i as isize - 1, banded::bspline_weights(t));
    }
    map
}
