//! `resample_to_spacing`: a new voxel size, same field of view (nibabel's `resample_to_output`
//! with `voxel_sizes`).
//!
//! A grid op: the output grid covers the same anatomy, so every world position keeps its
//! intensity (up to interpolation), and the output shape follows the new spacing. It runs
//! through the one resampling core, deferred, so it fuses with the spatial ops around it.
//!
//! Two grids are offered (`oblique`):
//! * `keep_orientation` (default): the input's voxel axes and directions are kept and only the
//!   voxel size changes. Voxel 0's centre stays where it is; along each axis the output has
//!   `ceil((n - 1) · old / new) + 1` voxels, so it spans at least the distance from the first to
//!   the last input voxel centre (nibabel's rounding). For an axis-aligned RAS+ volume this is
//!   exactly nibabel's output (shape and affine).
//! * `to_output_space`: nibabel's behaviour: the output is an axis-aligned RAS+ grid of the new
//!   spacing covering the bounding box of the input's voxel centres in world space (an
//!   oblique or LAS volume is rotated / flipped onto it).
//!
//! The `ceil` above is taken with a tolerance of 1e-6 voxel, so that floating-point noise
//! (`127.0000000001`) does not add a voxel.
//!
//! ```json
//! {"name": "iso1", "op": "resample_to_spacing", "params": {"spacing": [1, 1, 1], "interpolation": "cubic"}}
//! ```

use crate::spatial::{self, RESAMPLING_FIELDS, Resampling, Step};
use nalgebra::{Matrix4, Vector4};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::{Affine, Facts, Inputs, Op, OpError, RunContext, Value, Volume};

/// Which grid the output lies on.
///
/// ```
/// use nalgebra::{Matrix4, Vector4};
/// use voxflow_core::{Volume, volume::spacing};
/// use voxflow_geometry::resample_to_spacing::{Oblique, ResampleToSpacing};
/// // An LAS volume (x runs right to left), 1 mm voxels.
/// let las = Matrix4::from_diagonal(&Vector4::new(-1.0, 1.0, 1.0, 1.0));
/// let volume = Volume::image3(ndarray::Array3::zeros((9, 9, 9)), las);
/// let ras = ResampleToSpacing { spacing: [2.0; 3], oblique: Oblique::ToOutputSpace, ..Default::default() };
/// assert_eq!(ras.apply(&volume)?.affine[(0, 0)], 2.0); // nibabel's RAS+ output space
/// let kept = ResampleToSpacing { spacing: [2.0; 3], ..Default::default() }.apply(&volume)?;
/// assert_eq!((kept.affine[(0, 0)], spacing(&kept.affine)), (-2.0, [2.0; 3]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Oblique {
    /// The input's axes and directions, new voxel size (the default).
    #[default]
    KeepOrientation,
    /// nibabel's `resample_to_output`: an axis-aligned RAS+ grid over the world bounding box.
    ToOutputSpace,
}

/// Resamples to a voxel size of `spacing` millimetres.
///
/// ```
/// use voxflow_geometry::resample_to_spacing::ResampleToSpacing;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((9, 9, 9), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let coarse = ResampleToSpacing { spacing: [2.0, 2.0, 3.0], ..Default::default() }.apply(&volume)?;
/// assert_eq!(coarse.spacing(), [2.0, 2.0, 3.0]);
/// assert_eq!(coarse.shape3(), [5, 5, 4]); // spans at least the input's first to last voxel centre
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "Raw", into = "Raw")]
pub struct ResampleToSpacing {
    /// The output voxel size in mm `[x, y, z]`, each finite and > 0. Required.
    pub spacing: [f64; 3],
    /// Which grid: `keep_orientation` (default) or `to_output_space` (nibabel).
    pub oblique: Oblique,
    /// Interpolation, boundary mode and fill (flattened into the parameters; images default to
    /// `linear`, label maps to `nearest`).
    pub resampling: Resampling,
}

/// 1 mm isotropic, keeping the orientation, default resampling: set `spacing` (required in a graph).
impl Default for ResampleToSpacing {
    fn default() -> Self {
        ResampleToSpacing {
            spacing: [1.0; 3],
            oblique: Oblique::default(),
            resampling: Resampling::default(),
        }
    }
}

/// The parameters as written, so unknown keys are rejected although `Resampling` is flattened.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ResampleToSpacing", deny_unknown_fields)]
struct Raw {
    /// The output voxel size in mm `[x, y, z]`, each finite and > 0. Required.
    spacing: [f64; 3],
    /// Which grid: `keep_orientation` (default) or `to_output_space` (nibabel).
    #[serde(default)]
    oblique: Oblique,
    #[serde(flatten)]
    resampling: Resampling,
    #[serde(flatten, skip_serializing)]
    #[schemars(skip)]
    unknown: BTreeMap<String, serde_json::Value>,
}

impl TryFrom<Raw> for ResampleToSpacing {
    type Error = String;

    fn try_from(raw: Raw) -> Result<Self, String> {
        if let Some(key) = raw.unknown.keys().next() {
            return Err(format!(
                "unknown field `{key}`, expected one of `spacing`, `oblique`, {}",
                RESAMPLING_FIELDS.map(|f| format!("`{f}`")).join(", ")
            ));
        }
        Ok(ResampleToSpacing { spacing: raw.spacing, oblique: raw.oblique, resampling: raw.resampling })
    }
}

impl From<ResampleToSpacing> for Raw {
    fn from(p: ResampleToSpacing) -> Self {
        Raw { spacing: p.spacing, oblique: p.oblique, resampling: p.resampling, unknown: BTreeMap::new() }
    }
}

/// `ceil(x)` that ignores an excess of up to 1e-6 (floating-point noise).
fn ceil_tolerant(x: f64) -> f64 {
    (x - 1e-6).ceil().max(0.0)
}

/// The output grid for an input grid (`shape`, `affine`): shape, affine and the output-to-input
/// voxel matrix.
pub(crate) fn step(
    shape: [usize; 3],
    affine: &Affine,
    spacing: [f64; 3],
    oblique: Oblique,
) -> Result<Step, OpError> {
    let old = voxflow_core::volume::spacing(affine);
    if old.contains(&0.0) {
        return Err(OpError::other(crate::GeometryError::SingularAffine));
    }
    match oblique {
        Oblique::KeepOrientation => {
            let ratio: [f64; 3] = std::array::from_fn(|a| spacing[a] / old[a]);
            let out_shape: [usize; 3] = std::array::from_fn(|a| {
                (ceil_tolerant((shape[a] as f64 - 1.0).max(0.0) * old[a] / spacing[a]) as usize)
                    .saturating_add(1)
            });
            spatial::check_grid(out_shape, "spacing")?;
            let scale = Matrix4::from_diagonal(&Vector4::new(ratio[0], ratio[1], ratio[2], 1.0));
            Ok(Step { shape: out_shape, affine: affine * scale, out_to_in: scale })
        }
        Oblique::ToOutputSpace => {
            let mut lo = [f64::INFINITY; 3];
            let mut hi = [f64::NEG_INFINITY; 3];
            for corner in 0..8 {
                let v: [f64; 3] = std::array::from_fn(|a| {
                    if corner >> a & 1 == 1 { (shape[a] as f64 - 1.0).max(0.0) } else { 0.0 }
                });
                let w = affine * Vector4::new(v[0], v[1], v[2], 1.0);
                for a in 0..3 {
                    lo[a] = lo[a].min(w[a]);
                    hi[a] = hi[a].max(w[a]);
                }
            }
            let out_shape: [usize; 3] = std::array::from_fn(|a| {
                (ceil_tolerant((hi[a] - lo[a]) / spacing[a]) as usize).saturating_add(1)
            });
            spatial::check_grid(out_shape, "spacing")?;
            let mut out_affine =
                Matrix4::from_diagonal(&Vector4::new(spacing[0], spacing[1], spacing[2], 1.0));
            for a in 0..3 {
                out_affine[(a, 3)] = lo[a];
            }
            let inverse =
                affine.try_inverse().ok_or_else(|| OpError::other(crate::GeometryError::SingularAffine))?;
            Ok(Step { shape: out_shape, affine: out_affine, out_to_in: inverse * out_affine })
        }
    }
}

impl ResampleToSpacing {
    /// Resamples a volume in memory (one resample).
    ///
    /// ```
    /// use voxflow_geometry::resample_to_spacing::ResampleToSpacing;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// // The volume's own spacing (1 mm): the identity.
    /// assert_eq!(ResampleToSpacing { spacing: [1.0; 3], ..Default::default() }.apply(&volume)?, volume);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        self.validate()?;
        let step = step(volume.shape3(), &volume.affine, self.spacing, self.oblique)?;
        Ok(spatial::resample_once(volume, &step, &self.resampling)?)
    }
}

voxflow_core::op_doc!(
    "resample_to_spacing",
    ResampleToSpacing,
    "Resamples to the given voxel size in mm, keeping the input's orientation (or nibabel's axis-aligned output space); a grid op: the affine is updated.",
    r#"{"spacing": [1.0, 1.0, 1.0]}"#
);

#[typetag::serde(name = "resample_to_spacing")]
impl Op for ResampleToSpacing {
    fn output_shape(&self, _inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        // The new shape follows the file's voxel size, unknown before it is read.
        Ok(None)
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.spacing.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
            return Err(OpError::param(
                "spacing",
                format!("every voxel size must be finite and > 0 mm, got {:?}", self.spacing),
            ));
        }
        self.resampling.validate()?;
        Ok(())
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let value = inputs.take("volume")?;
        let (shape, affine) = spatial::grid(&value)?;
        let step = step(shape, &affine, self.spacing, self.oblique)?;
        Ok(spatial::defer(value, &step, &self.resampling)?)
    }
}
