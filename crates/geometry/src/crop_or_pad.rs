//! `crop_or_pad`: a fixed output shape, centred, cropping axes that are too long and padding
//! axes that are too short (TorchIO's `CropOrPad`). Makes cases of different shapes batchable,
//! e.g. after `resample_to_spacing`.
//!
//! When an axis differs by an odd number of voxels, the extra voxel is cut (or added) before
//! voxel 0, as TorchIO does. The affine's origin follows, so the anatomy stays put in world space.
//!
//! ```json
//! {"name": "fixed", "op": "crop_or_pad", "params": {"shape": [160, 192, 160]}}
//! ```

use crate::crop::Crop;
use crate::pad::{PadMode, Window, WindowOp, apply_window, window_op_node};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Op, OpError, Volume};

/// Crops or pads, centred, to `shape`.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::crop_or_pad::CropOrPad;
///
/// let volume = Volume::image3(ndarray::Array3::from_elem((8, 8, 8), 1.0), Affine::identity());
/// let out = CropOrPad { shape: [6, 10, 8], ..Default::default() }.apply(&volume)?;
/// assert_eq!(out.shape3(), [6, 10, 8]);
/// // x is cut (6 of 8 voxels kept), y padded with `value` (0) on both sides.
/// assert_eq!(out.image()?.sum(), (6 * 8 * 8) as f32);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CropOrPad {
    /// The output shape `[x, y, z]` (each at least 1). Required.
    pub shape: [usize; 3],
    /// What padded voxels hold. Default `constant`.
    #[serde(default)]
    pub mode: PadMode,
    /// The constant for padded voxels (a label, for label maps). Default 0.
    #[serde(default)]
    pub value: f64,
}

/// A 1×1×1 output with the graph's defaults: set `shape` (required in a graph).
impl Default for CropOrPad {
    fn default() -> Self {
        CropOrPad { shape: [1, 1, 1], mode: PadMode::default(), value: 0.0 }
    }
}

impl CropOrPad {
    fn as_crop(&self) -> Crop {
        Crop { start: None, size: self.shape, pad: true, mode: self.mode, value: self.value }
    }

    /// Crops or pads a volume in memory. An odd difference cuts (or adds) the extra voxel
    /// before voxel 0; the affine follows, so voxels keep their world positions.
    ///
    /// ```
    /// use nalgebra::Vector4;
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::crop_or_pad::CropOrPad;
    ///
    /// let volume = Volume::image3(ndarray::Array3::zeros((8, 8, 8)), Affine::identity());
    /// let out = CropOrPad { shape: [5, 11, 8], ..Default::default() }.apply(&volume)?;
    /// // Output voxel 0 is input voxel (2, -2, 0): 2 cut before x, 2 added before y.
    /// assert_eq!(out.affine * Vector4::new(0.0, 0.0, 0.0, 1.0), Vector4::new(2.0, -2.0, 0.0, 1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        apply_window(self, volume)
    }
}

impl WindowOp for CropOrPad {
    fn check(&self) -> Result<(), OpError> {
        crate::crop::check_size("shape", self.shape)
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn window(&self, shape: [usize; 3]) -> Result<Window, OpError> {
        self.as_crop().window(shape)
    }

    fn known_shape(&self, _input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        Some(self.shape)
    }
}

voxflow_core::op_doc!(
    "crop_or_pad",
    CropOrPad,
    "Crops or pads each axis symmetrically about the centre to the given `shape`; a grid op: the affine is updated so voxels keep their world positions.",
    r#"{"shape": [64, 64, 64]}"#
);

#[typetag::serde(name = "crop_or_pad")]
impl Op for CropOrPad {
    window_op_node!();
}
