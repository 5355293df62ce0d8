//! `keep_largest_component`: per label, keeps its largest connected component and sets the
//! others to `fill` (default 0), the usual clean-up of a predicted segmentation.
//!
//! ```json
//! {"name": "cleaned", "op": "keep_largest_component", "params": {"connectivity": 26}, "inputs": {"volume": "label"}}
//! {"name": "cleaned", "op": "keep_largest_component", "params": {"labels": [1, 2], "connectivity": 6}}
//! ```
//! For each label `l` (of `labels`, or every non-zero label when null), as scipy:
//! `lab, n = ndimage.label(x == l, generate_binary_structure(3, c))` with `c` = 1, 2, 3 for
//! `connectivity` 6, 18, 26; `keep = np.argmax(np.bincount(lab.ravel())[1:]) + 1`;
//! `out[(lab > 0) & (lab != keep)] = fill`. Of two equally large components the first in C
//! order (scipy's numbering) is kept. Each frame of a 4D label map alone; dtype and affine kept.

use crate::components::{ComponentOp, Connectivity, Filter, Keep, component_op_node};
use serde::{Deserialize, Serialize};
use voxflow_core::{Op, OpError, Volume};

/// Parameters of `keep_largest_component`. `Default` cleans every non-zero label,
/// 26-connected, removed voxels set to 0: the graph's `{}`.
///
/// ```
/// use voxflow_labels::{Connectivity, keep_largest_component::KeepLargestComponent};
/// assert_eq!(serde_json::from_str::<KeepLargestComponent>("{}")?, KeepLargestComponent::default());
/// let json = r#"{"connectivity": 6, "labels": [1, 2]}"#;
/// let faces = KeepLargestComponent { connectivity: Connectivity::Faces, labels: Some(vec![1, 2]), fill: 0 };
/// assert_eq!(serde_json::from_str::<KeepLargestComponent>(json)?, faces);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KeepLargestComponent {
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
    "keep_largest_component",
    KeepLargestComponent,
    "Per label, keeps the largest connected component (6-, 18- or 26-connected, as scipy.ndimage.label) and sets the others to `fill` (default 0); dtype and affine kept.",
    "{}"
);

impl KeepLargestComponent {
    /// Runs `keep_largest_component` on a label map (what its graph node does): dtype and
    /// affine kept.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::keep_largest_component::KeepLargestComponent;
    /// // Two blobs of label 1: x in 0..3 and the single voxel x = 6.
    /// let blobs = ndarray::Array3::<u8>::from_shape_fn((8, 4, 4), |(x, _, _)| u8::from(x < 3 || x == 6));
    /// let out = KeepLargestComponent::default().apply(&Volume::label3(blobs, Affine::identity()))?;
    /// let largest = ndarray::Array3::<u8>::from_shape_fn((8, 4, 4), |(x, _, _)| u8::from(x < 3));
    /// assert_eq!(out, Volume::label3(largest, Affine::identity()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

impl ComponentOp for KeepLargestComponent {
    fn filter(&self) -> Filter<'_> {
        Filter {
            connectivity: self.connectivity,
            labels: self.labels.as_deref(),
            keep: Keep::Largest,
            fill: self.fill,
        }
    }
}

#[typetag::serde(name = "keep_largest_component")]
impl Op for KeepLargestComponent {
    component_op_node!();
}
