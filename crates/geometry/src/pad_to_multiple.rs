//! `pad_to_multiple`: pads each axis up to the next multiple of `multiple` voxels (MONAI's
//! `DivisiblePad`, TorchIO's `EnsureShapeMultiple` with padding, what U-Nets with several
//! poolings need). A grid op: the affine is updated so every voxel keeps its world position.
//!
//! `position: "symmetric"` (default) puts `total // 2` voxels before and the rest after, as
//! MONAI's `DivisiblePad(k, method="symmetric")` does (`np.pad(x, [(d // 2, d - d // 2)])` with
//! `d = ceil(n / k) * k - n`); `"end"` puts them all after the last voxel.
//!
//! ```json
//! {"name": "pad16", "op": "pad_to_multiple", "params": {"multiple": 16}}
//! ```

use crate::pad::{PadMode, Window, WindowOp, apply_window, window_op_node};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{OpError, Volume};

/// Where the added voxels go.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::pad_to_multiple::{PadPosition, PadToMultiple};
///
/// let volume = Volume::image3(ndarray::Array3::zeros((5, 8, 8)), Affine::identity());
/// let symmetric = PadToMultiple { multiple: [4; 3], ..Default::default() };
/// let end = PadToMultiple { position: PadPosition::End, ..symmetric.clone() };
/// let (symmetric, end) = (symmetric.apply(&volume)?, end.apply(&volume)?);
/// // 3 voxels are added along x: 1 before (the origin moves back a voxel) and 2 after, or all after.
/// assert_eq!((symmetric.affine[(0, 3)], end.affine[(0, 3)]), (-1.0, 0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PadPosition {
    /// Half before the first voxel (rounded down), the rest after the last (MONAI's default).
    #[default]
    Symmetric,
    /// All after the last voxel.
    End,
}

/// Pads every axis up to a multiple of `multiple` voxels.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::pad_to_multiple::PadToMultiple;
///
/// let volume = Volume::image3(ndarray::Array3::zeros((5, 6, 8)), Affine::identity());
/// let out = PadToMultiple { multiple: [4; 3], ..Default::default() }.apply(&volume)?;
/// assert_eq!(out.shape3(), [8, 8, 8]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PadToMultiple {
    /// The multiple, one for all axes or one per axis `[x, y, z]` (each ≥ 1). Required.
    #[serde(deserialize_with = "voxflow_core::params::one_or_three")]
    #[schemars(with = "voxflow_core::params::OneOrThree<usize>")]
    pub multiple: [usize; 3],
    /// `symmetric` (default) or `end`.
    #[serde(default)]
    pub position: PadPosition,
    /// What the new voxels hold. Default `constant`.
    #[serde(default)]
    pub mode: PadMode,
    /// The constant for `mode: "constant"`. Default 0.
    #[serde(default)]
    pub value: f64,
}

/// A multiple of 1 (no padding) with the graph's defaults: set `multiple` (required in a graph).
impl Default for PadToMultiple {
    fn default() -> Self {
        PadToMultiple {
            multiple: [1, 1, 1],
            position: PadPosition::default(),
            mode: PadMode::default(),
            value: 0.0,
        }
    }
}

impl PadToMultiple {
    /// `(before, after)` on each axis for an input of `shape`.
    fn padding(&self, shape: [usize; 3]) -> [(usize, usize); 3] {
        std::array::from_fn(|a| {
            let k = self.multiple[a].max(1);
            let total = shape[a].div_ceil(k) * k - shape[a];
            match self.position {
                PadPosition::Symmetric => (total / 2, total - total / 2),
                PadPosition::End => (0, total),
            }
        })
    }

    fn padded(&self, shape: [usize; 3]) -> [usize; 3] {
        let padding = self.padding(shape);
        std::array::from_fn(|a| shape[a] + padding[a].0 + padding[a].1)
    }

    /// Pads a volume in memory (a multiple per axis; padded voxels per `mode` and `value`).
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::pad_to_multiple::PadToMultiple;
    ///
    /// let volume = Volume::image3(ndarray::Array3::from_elem((5, 6, 7), 1.0), Affine::identity());
    /// let out = PadToMultiple { multiple: [16, 1, 1], value: -1.0, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(out.shape3(), [16, 6, 7]);
    /// let image = out.image()?;
    /// // 11 voxels added along x: 5 before, 6 after.
    /// assert_eq!((image[[4, 0, 0, 0]], image[[5, 0, 0, 0]], image[[10, 0, 0, 0]]), (-1.0, 1.0, -1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        apply_window(self, volume)
    }
}

impl WindowOp for PadToMultiple {
    fn check(&self) -> Result<(), OpError> {
        if self.multiple.iter().any(|&k| k == 0 || k > 4096) {
            return Err(OpError::param(
                "multiple",
                format!("each must be 1 to 4096, got {:?}", self.multiple),
            ));
        }
        Ok(())
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn window(&self, shape: [usize; 3]) -> Result<Window, OpError> {
        let padding = self.padding(shape);
        Ok(Window {
            start: padding.map(|(before, _)| -(before as i64)),
            size: self.padded(shape),
            mode: self.mode,
            size_param: "multiple",
        })
    }

    fn known_shape(&self, input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        input.map(|shape| self.padded(shape))
    }
}

voxflow_core::op_doc!(
    "pad_to_multiple",
    PadToMultiple,
    "Pads each axis up to the next multiple of `multiple` voxels (MONAI's DivisiblePad), half before and half after by default; a grid op: the affine is updated.",
    r#"{"multiple": 16}"#
);

#[typetag::serde(name = "pad_to_multiple")]
impl voxflow_core::Op for PadToMultiple {
    window_op_node!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;
    use voxflow_core::Affine;

    /// MONAI's `DivisiblePad(k, method="symmetric")` on (37, 40, 15) with k = 16: totals
    /// (11, 8, 1), so `np.pad(x, [(5, 6), (4, 4), (0, 1)])`.
    #[test]
    fn pads_as_monai_divisible_pad_and_keeps_world_positions() {
        let data = Array3::from_shape_fn((37, 40, 15), |(i, j, k)| (i * 1000 + j * 10 + k) as f32 + 1.0);
        let mut affine = Affine::from_diagonal(&nalgebra::Vector4::new(0.9, 1.1, 2.5, 1.0));
        affine[(0, 3)] = -20.0;
        let volume = Volume::image3(data.clone(), affine);
        let op = PadToMultiple {
            multiple: [16; 3],
            position: PadPosition::Symmetric,
            mode: PadMode::Constant,
            value: 0.0,
        };
        let out = op.apply(&volume).expect("pads");
        assert_eq!(out.shape3(), [48, 48, 16]);
        let image = out.image().expect("image");
        for ((i, j, k), &v) in data.indexed_iter() {
            assert_eq!(image[(i + 5, j + 4, k, 0)], v);
        }
        assert_eq!(image.iter().filter(|&&v| v == 0.0).count(), 48 * 48 * 16 - 37 * 40 * 15);
        // Voxel (5, 4, 0) of the output is where voxel (0, 0, 0) of the input was.
        let world = |a: &Affine, v: [f64; 3]| a * nalgebra::Vector4::new(v[0], v[1], v[2], 1.0);
        assert!((world(&out.affine, [5.0, 4.0, 0.0]) - world(&affine, [0.0; 3])).norm() < 1e-12);
        let end = PadToMultiple { position: PadPosition::End, ..op.clone() };
        assert_eq!(end.padding([37, 40, 15]), [(0, 11), (0, 8), (0, 1)]);
        assert_eq!(op.padding([32, 16, 48]), [(0, 0); 3], "already a multiple: unchanged");
        let zero = PadToMultiple { multiple: [0, 16, 16], ..op };
        assert!(zero.check().is_err());
    }
}
