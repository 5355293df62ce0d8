//! `one_hot`: a label map to an f32 image with one 0/1 frame per class.
//!
//! ```json
//! {"name": "onehot", "op": "one_hot", "params": {"classes": [0, 1, 2, 3]}, "inputs": {"volume": "label"}}
//! ```
//! Frame `k` is 1 where the label is `classes[k]`: `np.stack([x == c for c in classes],
//! -1).astype(np.float32)`. The classes are listed, not found in the data, so the output's
//! frame count is known when the graph is validated and is the same for every case. A label
//! not in `classes` is an error naming it, or, with `"unknown": "zero"`, a voxel that is 0 in
//! every frame. Takes a 3D label map; the affine is kept. `argmax` is the inverse.

use crate::LabelsError;
use crate::common::{
    LABEL_PORTS, Lookup, check_unique, image_value, single_frame, single_volume, take_labels,
};
use ndarray::{Array4, ArrayView3, Axis, ShapeBuilder, Zip};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::{
    Facts, Inputs, Kind, LabelType, Op, OpError, Port, RunContext, Value, Volume, with_labels,
};

/// What `one_hot` does with a label not in `classes`.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_labels::one_hot::{OneHot, Unknown};
/// let label = Volume::label3(ndarray::array![[[0u8, 1, 7]]], Affine::identity());
/// assert!(OneHot::default().apply(&label).is_err()); // 7 is not a class
/// let out = OneHot { unknown: Unknown::Zero, ..Default::default() }.apply(&label)?;
/// assert_eq!(out.image()?.iter().sum::<f32>(), 2.0); // the voxel of 7 is 0 in both frames
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    /// Fail, naming the label (default).
    #[default]
    Error,
    /// Leave the voxel 0 in every frame.
    Zero,
}

/// Parameters of `one_hot`.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_labels::one_hot::OneHot;
/// let labels = ndarray::Array3::<u8>::from_shape_fn((4, 4, 4), |(x, _, _)| x as u8 % 3);
/// let label = Volume::label3(labels, Affine::identity());
/// let out = OneHot { classes: vec![0, 1, 2], ..Default::default() }.apply(&label)?;
/// assert_eq!(out.shape4(), [4, 4, 4, 3]); // one f32 channel per class
/// assert!(out.image()?.sum_axis(ndarray::Axis(3)).iter().all(|&s| s == 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OneHot {
    /// The classes, one output frame each, in this order (required, not empty, no repeats).
    pub classes: Vec<i64>,
    /// `"error"` (default) or `"zero"`: what a label not in `classes` gives.
    #[serde(default)]
    pub unknown: Unknown,
}

/// A binary mask's two classes, background and foreground (`classes: [0, 1]`), unlisted labels
/// an error: the inverse of [`Argmax::default`](crate::argmax::Argmax).
impl Default for OneHot {
    fn default() -> Self {
        OneHot { classes: vec![0, 1], unknown: Unknown::default() }
    }
}

impl OneHot {
    /// Runs `one_hot` on a 3D label map (what its graph node does): an f32 image with one
    /// frame per class, on the same affine.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::one_hot::OneHot;
    /// let mask = ndarray::Array3::<u8>::from_shape_fn((8, 8, 8), |(i, _, _)| u8::from(i > 3));
    /// let mask = Volume::label3(mask, Affine::identity());
    /// let out = OneHot::default().apply(&mask)?; // classes [0, 1]
    /// assert_eq!(out.shape4(), [8, 8, 8, 2]);
    /// assert_eq!(out.image()?[[5, 0, 0, 1]], 1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// One f32 frame per class; see the module docs.
///
/// ```
/// use voxflow_labels::one_hot::{Unknown, one_hot};
/// let frame = ndarray::array![[[3i16, 0], [3, 3]]];
/// let out = one_hot(frame.view(), &[0, 3], Unknown::Error)?;
/// assert_eq!(out.shape(), [1, 2, 2, 2]);
/// assert_eq!(out[[0, 0, 0, 1]], 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn one_hot<T: LabelType>(
    frame: ArrayView3<'_, T>,
    classes: &[i64],
    unknown: Unknown,
) -> Result<Array4<f32>, LabelsError> {
    let table = Lookup::new(classes.iter().map(|&c| i128::from(c)));
    if unknown == Unknown::Error {
        let mut lookup = table.cached::<T>();
        if let Some(&v) = frame.iter().find(|&&v| lookup(v).is_none()) {
            return Err(LabelsError::UnlistedLabel { param: "classes", value: v.to_i128() });
        }
    }
    let (x, y, z) = frame.dim();
    let mut out = Array4::<f32>::zeros((x, y, z, classes.len()).f());
    for (mut channel, &class) in out.axis_iter_mut(Axis(3)).zip(classes) {
        // A class the label type cannot hold matches no voxel.
        if let Some(class) = T::from_i128(i128::from(class)) {
            Zip::from(&mut channel).and(&frame).for_each(|o, &v| {
                if v == class {
                    *o = 1.0;
                }
            });
        }
    }
    Ok(out)
}

pub(crate) fn check_classes(classes: &[i64]) -> Result<(), LabelsError> {
    if classes.is_empty() {
        return Err(LabelsError::param("classes", "give at least one class"));
    }
    check_unique("classes", classes)
}

voxflow_core::op_doc!(
    "one_hot",
    OneHot,
    "A 3D label map to an f32 image with one 0/1 frame per listed class (in order); a label not listed is an error, or all-zero with `unknown: zero`. The affine is kept.",
    r#"{"classes": [0, 1, 2]}"#
);

#[typetag::serde(name = "one_hot")]
impl Op for OneHot {
    fn ports(&self) -> &'static [Port] {
        LABEL_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(check_classes(&self.classes)?)
    }

    fn output_kind(&self, _inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        Ok(Kind::Image)
    }

    fn output_facts(&self, inputs: &BTreeMap<String, Facts>) -> Result<Facts, OpError> {
        single_volume(inputs, "one_hot")?;
        Ok(Facts::image(Some(self.classes.len())).with_shape(self.output_shape(inputs)?))
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_labels(&mut inputs)?;
        let out = with_labels!(volume.labels()?, |a: T| one_hot::<T>(
            single_frame(a, "one_hot")?,
            &self.classes,
            self.unknown
        )?);
        Ok(image_value(out, &volume))
    }
}
