//! `remove_labels`: sets the voxels of some labels to `fill` (default 0).
//!
//! ```json
//! {"name": "without_edema", "op": "remove_labels", "params": {"labels": [4, 5]}, "inputs": {"volume": "label"}}
//! ```
//! As numpy: `out = x.copy(); out[np.isin(x, labels)] = fill`. The dtype and the affine are
//! kept; `fill` must fit the dtype.

use crate::LabelsError;
use crate::common::{LABEL_PORTS, Lookup, check_unique, label_value, take_labels, to_label};
use ndarray::{Array4, ArrayView4};
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, LabelType, Op, OpError, Port, RunContext, Value, Volume, map_labels};

/// Parameters of `remove_labels`. `Default` removes nothing (no `labels`, `fill` 0).
///
/// ```
/// use voxflow_core::{Affine, DType, Volume};
/// use voxflow_labels::remove_labels::RemoveLabels;
/// let label = Volume::label3(ndarray::array![[[0i16, 2, 3]]], Affine::identity());
/// let out = RemoveLabels { labels: vec![2], fill: -1 }.apply(&label)?;
/// assert_eq!(out, Volume::label3(ndarray::array![[[0i16, -1, 3]]], Affine::identity()));
/// assert_eq!(RemoveLabels::default().apply(&label)?, label);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoveLabels {
    /// The labels to remove (required; may be empty).
    pub labels: Vec<i64>,
    /// The label removed voxels get. Default 0 (background).
    #[serde(default)]
    pub fill: i64,
}

impl RemoveLabels {
    /// Runs `remove_labels` on a label map (what its graph node does): dtype and affine kept.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::remove_labels::RemoveLabels;
    /// let label = Volume::label3(ndarray::array![[[0u8, 1], [4, 5]]], Affine::identity());
    /// let out = RemoveLabels { labels: vec![4, 5], ..Default::default() }.apply(&label)?;
    /// assert_eq!(out, Volume::label3(ndarray::array![[[0u8, 1], [0, 0]]], Affine::identity()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Sets every voxel whose label is in `labels` to `fill`; the layout of the input is kept.
pub(crate) fn remove_labels<T: LabelType>(
    input: ArrayView4<'_, T>,
    labels: &[i64],
    fill: i64,
) -> Result<Array4<T>, LabelsError> {
    let fill = to_label::<T>("fill", i128::from(fill))?;
    let table = Lookup::new(labels.iter().map(|&l| i128::from(l)));
    let mut lookup = table.cached::<T>();
    Ok(input.map(|&v| if lookup(v).is_some() { fill } else { v }))
}

voxflow_core::op_doc!(
    "remove_labels",
    RemoveLabels,
    "Sets the voxels of the listed `labels` to `fill` (default 0); label maps only, dtype and affine kept.",
    r#"{"labels": [4]}"#
);

#[typetag::serde(name = "remove_labels")]
impl Op for RemoveLabels {
    fn ports(&self) -> &'static [Port] {
        LABEL_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(check_unique("labels", &self.labels)?)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_labels(&mut inputs)?;
        let out =
            map_labels!(volume.labels()?, |a: T| remove_labels::<T>(a.view(), &self.labels, self.fill)?);
        Ok(label_value(out, &volume))
    }
}
