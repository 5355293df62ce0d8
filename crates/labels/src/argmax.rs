//! `argmax`: an image with one frame per class (probabilities, logits, one-hot) to a label map.
//!
//! ```json
//! {"name": "label", "op": "argmax", "params": {"classes": [0, 1, 2, 3], "dtype": "uint8"}, "inputs": {"volume": "probabilities"}}
//! ```
//! Each voxel gets `classes[k]` for the frame `k` holding its largest value:
//! `np.asarray(classes)[np.argmax(x, axis=-1)]`, with numpy's rules: a tie goes to the first
//! frame, and a NaN counts as the largest (the first NaN wins). The image must have one frame
//! per class; the output is a 3D label map of `dtype` (default `uint8`) on the same affine.
//! The inverse of `one_hot`.

use crate::LabelsError;
use crate::common::{check_fits, label_dtype, label_value, to_label, with_dtype};
use ndarray::{Array3, ArrayView4, Axis, ShapeBuilder, Zip};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::volume::IntoLabelArray;
use voxflow_core::{
    DType, Facts, Inputs, Kind, LabelType, Op, OpError, Port, RunContext, Value, Volume, Voxels,
};

fn default_dtype() -> DType {
    DType::U8
}

/// Parameters of `argmax`.
///
/// ```
/// use voxflow_core::{Affine, DType, Volume, Voxels};
/// use voxflow_labels::argmax::Argmax;
/// // Two frames (classes 0 and 5): the second is larger where x > 1.
/// let scores = ndarray::Array4::<f32>::from_shape_fn((4, 1, 1, 2), |(x, _, _, k)| {
///     if (x > 1) == (k == 1) { 0.9 } else { 0.1 }
/// });
/// let affine = Affine::identity();
/// let image = Volume { voxels: Voxels::Image(scores), affine, stored_dtype: DType::F32 };
/// let out = Argmax { classes: vec![0, 5], dtype: DType::I16 }.apply(&image)?;
/// let expected = ndarray::Array3::<i16>::from_shape_fn((4, 1, 1), |(x, _, _)| if x > 1 { 5 } else { 0 });
/// assert_eq!(out, Volume::label3(expected, Affine::identity()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Argmax {
    /// The label of each input frame, in frame order (required, not empty, no repeats).
    pub classes: Vec<i64>,
    /// The output label dtype (`uint8` default, `int8`, `uint16`, `int16`, `uint32`, `int32`,
    /// `int64`, `uint64`); every class must fit it.
    #[serde(default = "default_dtype", with = "label_dtype")]
    #[schemars(with = "crate::common::LabelDTypeName")]
    pub dtype: DType,
}

/// Two classes, background and foreground (`classes: [0, 1]`), as `uint8`: the inverse of
/// [`OneHot::default`](crate::one_hot::OneHot).
impl Default for Argmax {
    fn default() -> Self {
        Argmax { classes: vec![0, 1], dtype: default_dtype() }
    }
}

impl Argmax {
    /// Runs `argmax` on an image with one frame per class (what its graph node does): a 3D
    /// label map of `dtype` on the same affine.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::{argmax::Argmax, one_hot::OneHot};
    /// let mask = ndarray::Array3::<u8>::from_shape_fn((8, 8, 8), |(i, _, _)| u8::from(i > 3));
    /// let mask = Volume::label3(mask, Affine::identity());
    /// let round_trip = Argmax::default().apply(&OneHot::default().apply(&mask)?)?;
    /// assert_eq!(round_trip, mask);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// `classes[argmax over frames]` for every voxel; see the module docs. `classes` must have
/// one entry per frame of `input` (an error naming `classes` otherwise).
///
/// ```
/// use voxflow_labels::argmax::argmax;
/// let scores = ndarray::Array4::<f32>::from_shape_vec((1, 1, 1, 3), vec![0.2, 0.7, 0.1])?;
/// assert_eq!(argmax::<u8>(scores.view(), &[0, 4, 9])?[[0, 0, 0]], 4);
/// assert!(argmax::<u8>(scores.view(), &[0, 4]).is_err()); // 3 frames, 2 classes
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn argmax<U: LabelType>(input: ArrayView4<'_, f32>, classes: &[U]) -> Result<Array3<U>, LabelsError> {
    let count = input.shape()[3];
    if count != classes.len() || count == 0 {
        return Err(LabelsError::param(
            "classes",
            format!("the image has {count} frames but {} classes are listed", classes.len()),
        ));
    }
    let mut frames = input.axis_iter(Axis(3));
    let Some(first) = frames.next() else {
        return Err(LabelsError::param("classes", "the image has no frames"));
    };
    let mut best = first.to_owned();
    let mut index = Array3::<u32>::zeros(first.raw_dim().f());
    for (k, frame) in frames.enumerate() {
        let k = k as u32 + 1;
        Zip::from(&mut best).and(&mut index).and(&frame).for_each(|b, i, &v| {
            // numpy: the first NaN is the maximum; otherwise strictly greater wins.
            if !b.is_nan() && (v.is_nan() || v > *b) {
                *b = v;
                *i = k;
            }
        });
    }
    Ok(index.map(|&i| classes[i as usize]))
}

voxflow_core::op_doc!(
    "argmax",
    Argmax,
    "An image with one frame per class to a label map: each voxel gets the class of its largest frame (ties: the first, as numpy); the affine is kept.",
    r#"{"classes": [0, 1, 2]}"#
);

const IMAGE_PORTS: &[Port] = &[Port::IMAGE];

#[typetag::serde(name = "argmax")]
impl Op for Argmax {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        crate::one_hot::check_classes(&self.classes)?;
        for &c in &self.classes {
            check_fits("dtype", i128::from(c), self.dtype)?;
        }
        Ok(())
    }

    fn output_kind(&self, _inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        Ok(Kind::Label)
    }

    fn output_facts(&self, inputs: &BTreeMap<String, Facts>) -> Result<Facts, OpError> {
        if let Some(n) = inputs.get("volume").and_then(|f| f.channels)
            && n != self.classes.len()
        {
            return Err(OpError::param(
                "classes",
                format!("{} classes for an input of {n} channels", self.classes.len()),
            ));
        }
        Ok(Facts::label(Some(self.dtype), Some(1)).with_shape(self.output_shape(inputs)?))
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = inputs.volume("volume")?;
        let Voxels::Image(data) = &volume.voxels else {
            return Err(LabelsError::Input("argmax takes an image, got a label map".into()).into());
        };
        let out = with_dtype!(
            self.dtype,
            U,
            {
                let classes: Vec<U> = self
                    .classes
                    .iter()
                    .map(|&c| to_label::<U>("dtype", i128::from(c)))
                    .collect::<Result<_, _>>()?;
                argmax::<U>(data.view(), &classes)?.insert_axis(Axis(3)).into_label_array()
            },
            return Err(LabelsError::param("dtype", "label maps need an integer dtype").into())
        );
        Ok(label_value(out, &volume))
    }
}
