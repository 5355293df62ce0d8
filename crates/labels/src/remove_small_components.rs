//! `remove_small_components`: per label, sets connected components of fewer than
//! `min_voxels` voxels to `fill` (default 0).
//!
//! ```json
//! {"name": "cleaned", "op": "remove_small_components", "params": {"min_voxels": 50}, "inputs": {"volume": "label"}}
//! {"name": "cleaned", "op": "remove_small_components", "params": {"min_voxels": 10, "labels": [3], "connectivity": 18}}
//! ```
//! For each label `l` (of `labels`, or every non-zero label when null), as scipy:
//! `lab, n = ndimage.label(x == l, generate_binary_structure(3, c))` with `c` = 1, 2, 3 for
//! `connectivity` 6, 18, 26; `sizes = np.bincount(lab.ravel())`;
//! `out[(lab > 0) & (sizes[lab] < min_voxels)] = fill` (skimage's `remove_small_objects`
//! rule: a component of exactly `min_voxels` stays). Each frame of a 4D label map alone;
//! dtype and affine kept.

use crate::LabelsError;
use crate::components::{ComponentOp, Connectivity, Filter, Keep, component_op_node};
use serde::{Deserialize, Serialize};
use voxflow_core::{Op, OpError, Volume};

/// Parameters of `remove_small_components`.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_labels::remove_small_components::RemoveSmallComponents;
/// // Voxels of label 1 alone on a checkerboard: 32 components of one voxel each (6-connected).
/// let board = ndarray::Array3::<u8>::from_shape_fn((4, 4, 4), |(x, y, z)| ((x + y + z) % 2) as u8);
/// let label = Volume::label3(board, Affine::identity());
/// assert_eq!(RemoveSmallComponents::default().apply(&label)?, label); // min_voxels 1 removes nothing
/// let faces: RemoveSmallComponents = serde_json::from_str(r#"{"min_voxels": 2, "connectivity": 6}"#)?;
/// let cleaned = faces.apply(&label)?;
/// assert!(voxflow_labels::mask(cleaned.labels()?, None).iter().all(|&m| !m)); // all removed
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveSmallComponents {
    /// Components with fewer voxels than this are removed (required, at least 1).
    pub min_voxels: u64,
    /// 6 (faces), 18 (faces and edges) or 26 (faces, edges and corners; default).
    #[serde(default)]
    pub connectivity: Connectivity,
    /// The labels to clean up, each on its own; null (default) = every non-zero label.
    #[serde(default)]
    pub labels: Option<Vec<i64>>,
    /// The label removed voxels get. Default 0 (background).
    #[serde(default)]
    pub fill: i64,
}

voxflow_core::op_doc!(
    "remove_small_components",
    RemoveSmallComponents,
    "Per label, sets connected components (6-, 18- or 26-connected, as scipy.ndimage.label) of fewer than `min_voxels` voxels to `fill` (default 0); dtype and affine kept.",
    r#"{"min_voxels": 10}"#
);

/// Removes nothing: `min_voxels` 1 keeps every component (26-connected, every non-zero label).
impl Default for RemoveSmallComponents {
    fn default() -> Self {
        RemoveSmallComponents { min_voxels: 1, connectivity: Connectivity::default(), labels: None, fill: 0 }
    }
}

impl RemoveSmallComponents {
    /// Runs `remove_small_components` on a label map (what its graph node does): dtype and
    /// affine kept.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::remove_small_components::RemoveSmallComponents;
    /// // Label 2 in x < 3 (48 voxels), with or without a stray voxel of label 2 at (6, 0, 0).
    /// let label = |stray: bool| {
    ///     let map = ndarray::Array3::<u8>::from_shape_fn((8, 4, 4), |(x, y, z)| {
    ///         if x < 3 || (stray && (x, y, z) == (6, 0, 0)) { 2 } else { 0 }
    ///     });
    ///     Volume::label3(map, Affine::identity())
    /// };
    /// let out = RemoveSmallComponents { min_voxels: 2, ..Default::default() }.apply(&label(true))?;
    /// assert_eq!(out, label(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

impl ComponentOp for RemoveSmallComponents {
    fn filter(&self) -> Filter<'_> {
        let keep = Keep::AtLeast(self.min_voxels);
        Filter { connectivity: self.connectivity, labels: self.labels.as_deref(), keep, fill: self.fill }
    }

    fn check(&self) -> Result<(), OpError> {
        if self.min_voxels == 0 {
            return Err(LabelsError::param("min_voxels", "must be at least 1 (0 removes nothing)").into());
        }
        Ok(())
    }
}

#[typetag::serde(name = "remove_small_components")]
impl Op for RemoveSmallComponents {
    component_op_node!();
}
