//! `resample_to`: puts a volume on another volume's grid, in world space (nibabel's
//! `resample_from_to`, TorchIO's `Resample(target=...)`, MONAI's `ResampleToMatch`).
//!
//! A grid op: the output has the `like` volume's shape and affine, and every output voxel takes
//! the input's value at the same world position (up to interpolation), so anatomy stays where
//! it is. This is how a case whose inputs come from different acquisitions (T1/T2/FLAIR, PET/CT,
//! a label map drawn on a resampled image) is brought onto one grid. Only the `like` volume's
//! grid is read, never its voxels, and both inputs may be deferred: the resample fuses with the
//! spatial ops before it.
//!
//! ```json
//! {"name": "t2_on_t1", "op": "resample_to", "params": {"interpolation": "cubic"},
//!  "inputs": {"volume": "t2", "like": "t1"}}
//! ```

use crate::spatial::{self, RESAMPLING_FIELDS, Resampling, Step};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Resamples `volume` onto the grid (shape and affine) of `like`.
///
/// ```
/// use nalgebra::{Matrix4, Vector4};
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::resample_to::ResampleTo;
/// # let volume = Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), Affine::identity());
/// // A 2 mm grid over the same field of view (its voxels are never read).
/// let coarse = Matrix4::from_diagonal(&Vector4::new(2.0, 2.0, 2.0, 1.0));
/// let like = Volume::label3(ndarray::Array3::<u8>::zeros((4, 4, 4)), coarse);
/// let out = ResampleTo::default().apply(&volume, &like)?;
/// assert_eq!((out.shape3(), out.affine), ([4, 4, 4], coarse));
/// assert_eq!(out.image()?[[1, 2, 3, 0]], volume.image()?[[2, 4, 6, 0]]); // same world point
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(try_from = "Raw", into = "Raw")]
pub struct ResampleTo {
    /// Interpolation, boundary mode and fill (flattened into the parameters; images default to
    /// `linear`, label maps to `nearest`; nibabel's `resample_from_to` default is order 3, i.e.
    /// `cubic`).
    pub resampling: Resampling,
}

/// The parameters as written, so unknown keys are rejected although `Resampling` is flattened.
#[derive(Serialize, Deserialize, JsonSchema)]
#[schemars(rename = "ResampleTo", deny_unknown_fields)]
struct Raw {
    #[serde(flatten)]
    resampling: Resampling,
    #[serde(flatten, skip_serializing)]
    #[schemars(skip)]
    unknown: BTreeMap<String, serde_json::Value>,
}

impl TryFrom<Raw> for ResampleTo {
    type Error = String;

    fn try_from(raw: Raw) -> Result<Self, String> {
        if let Some(key) = raw.unknown.keys().next() {
            return Err(format!(
                "unknown field `{key}`, expected one of {}",
                RESAMPLING_FIELDS.map(|f| format!("`{f}`")).join(", ")
            ));
        }
        Ok(ResampleTo { resampling: raw.resampling })
    }
}

impl From<ResampleTo> for Raw {
    fn from(p: ResampleTo) -> Self {
        Raw { resampling: p.resampling, unknown: BTreeMap::new() }
    }
}

/// The step from a volume's grid (`affine`) onto the grid `target` (`shape`, `affine`): output
/// voxel → world (target affine) → input voxel (inverse of the input's affine).
pub(crate) fn step(
    input_affine: &voxflow_core::Affine,
    target_shape: [usize; 3],
    target_affine: &voxflow_core::Affine,
) -> Result<Step, OpError> {
    let inverse =
        input_affine.try_inverse().ok_or_else(|| OpError::other(crate::GeometryError::SingularAffine))?;
    spatial::check_grid(target_shape, "like")?;
    Ok(Step { shape: target_shape, affine: *target_affine, out_to_in: inverse * target_affine })
}

impl ResampleTo {
    /// Resamples a volume in memory onto `like`'s grid, in one resample (what the node does,
    /// without a graph). Only `like`'s grid (shape and affine) is read, never its voxels.
    ///
    /// ```
    /// use voxflow_geometry::resample_to::ResampleTo;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// // Onto the volume's own grid: the identity.
    /// assert_eq!(ResampleTo::default().apply(&volume, &volume)?, volume);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume, like: &Volume) -> Result<Volume, OpError> {
        self.validate()?;
        let step = step(&volume.affine, like.shape3(), &like.affine)?;
        Ok(spatial::resample_once(volume, &step, &self.resampling)?)
    }
}

voxflow_core::op_doc!(
    "resample_to",
    ResampleTo,
    "Resamples `volume` onto the grid (shape and affine) of the `like` volume, in world space (nibabel's resample_from_to); a grid op: for inputs from different acquisitions.",
    r#"{"interpolation": "linear"}"#
);

#[typetag::serde(name = "resample_to")]
impl Op for ResampleTo {
    fn ports(&self) -> &'static [Port] {
        &[Port::VOLUME, Port { name: "like", accepts: &[Kind::Image, Kind::Label], required: true }]
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(self.resampling.validate()?)
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn output_shape(
        &self,
        inputs: &BTreeMap<String, voxflow_core::Facts>,
    ) -> Result<Option<[usize; 3]>, OpError> {
        // The output lies on `like`'s grid; the volume lends everything else.
        Ok(inputs.get("like").and_then(|f| f.shape))
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let like = inputs.take("like")?;
        let (target_shape, target_affine) = spatial::grid(&like)
            .map_err(|e| OpError::Input { port: "like".into(), message: e.to_string() })?;
        let value = inputs.take("volume")?;
        let (_, input_affine) = spatial::grid(&value)?;
        let step = step(&input_affine, target_shape, &target_affine)?;
        Ok(spatial::defer(value, &step, &self.resampling)?)
    }
}
