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

    /// The first voxel of the output window on a grid of `shape` (negative where it pads).
    #[must_use]
    pub fn start(&self, shape: [usize; 3]) -> [i64; 3] {
        std::array::from_fn(|a| crate::crop::centred_start(shape[a], self.shape[a]))
    }

    /// Crops or pads a volume in memory.
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
