//! `remap_labels`: replaces label values through a table, optionally into another dtype.
//!
//! ```json
//! {"name": "remapped", "op": "remap_labels", "params": {"mapping": {"1": 2, "4": 3}}, "inputs": {"volume": "label"}}
//! {"name": "remapped", "op": "remap_labels", "params": {"mapping": {"1": 1, "2": 1}, "default": 0, "dtype": "uint8"}}
//! ```
//! Every voxel whose label is a key of `mapping` gets the key's value; the others get `default`,
//! or keep their label when `default` is null. As numpy:
//! `out = np.full_like(x, default) if default is not None else x.copy(); out[x == k] = v` for
//! each `k: v` (the lookup reads the input, so `{"1": 2, "2": 1}` swaps). The output holds
//! only mapped values, `default`, and kept labels: never a value of its own. A value that does
//! not fit the output dtype (`dtype`, default the input's) is an error naming the parameter.

use crate::LabelsError;
use crate::common::{Lookup, label_value, opt_dtype, take_labels, to_label, with_dtype};
use ndarray::{Array4, ArrayView4};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::volume::IntoLabelArray;
use voxflow_core::{DType, Facts, Inputs, LabelType, Op, OpError, RunContext, Value, Volume, with_labels};

/// Parameters of `remap_labels`. `Default` is the identity remap (no `mapping`, labels kept).
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_labels::remap_labels::RemapLabels;
/// let label = Volume::label3(ndarray::array![[[0u8, 1], [4, 2]]], Affine::identity());
/// let swap = RemapLabels { mapping: [(1, 2), (2, 1)].into(), ..Default::default() };
/// let out = swap.apply(&label)?;
/// assert_eq!(out, Volume::label3(ndarray::array![[[0u8, 2], [4, 1]]], Affine::identity()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemapLabels {
    /// Old label → new label (required). JSON object keys are strings: `{"1": 2, "4": 3}`.
    pub mapping: BTreeMap<i64, i64>,
    /// The label given to voxels whose label is not a key of `mapping`; null (default) keeps
    /// them as they are.
    #[serde(default)]
    pub default: Option<i64>,
    /// The output label dtype (`uint8`, `int8`, `uint16`, `int16`, `uint32`, `int32`, `int64`,
    /// `uint64`); null (default) keeps the input's.
    #[serde(default, with = "opt_dtype")]
    #[schemars(with = "Option<crate::common::LabelDTypeName>")]
    pub dtype: Option<DType>,
}

impl RemapLabels {
    /// Runs `remap_labels` on a label map (what its graph node does): a new label map on the
    /// same affine, of `dtype` or the input's dtype.
    ///
    /// ```
    /// use voxflow_core::{Affine, DType, Volume};
    /// use voxflow_labels::remap_labels::RemapLabels;
    /// let label = Volume::label3(ndarray::Array3::<i16>::from_elem((2, 2, 2), 3), Affine::identity());
    /// let binary = RemapLabels { mapping: [(3, 1)].into(), default: Some(0), dtype: Some(DType::U8) };
    /// let out = binary.apply(&label)?;
    /// assert_eq!(out, Volume::label3(ndarray::Array3::<u8>::ones((2, 2, 2)), Affine::identity()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Remaps a label array (any number of frames) into labels of type `U`; see the module docs.
/// The layout (memory order) of the input is kept.
///
/// ```
/// use voxflow_labels::remap_labels::remap_labels;
/// let labels = ndarray::Array4::<u8>::from_shape_fn((3, 1, 1, 1), |(i, ..)| i as u8);
/// let out = remap_labels::<u8, u16>(labels.view(), &[(2, 300)].into(), None)?;
/// assert_eq!(out.iter().copied().collect::<Vec<u16>>(), [0, 1, 300]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remap_labels<T: LabelType, U: LabelType>(
    input: ArrayView4<'_, T>,
    mapping: &BTreeMap<i64, i64>,
    default: Option<i64>,
) -> Result<Array4<U>, LabelsError> {
    let values: Vec<U> =
        mapping.values().map(|&v| to_label::<U>("mapping", i128::from(v))).collect::<Result<_, _>>()?;
    let default: Option<U> = default.map(|d| to_label::<U>("default", i128::from(d))).transpose()?;
    let keys = Lookup::new(mapping.keys().map(|&k| i128::from(k)));
    let mut lookup = keys.cached::<T>();
    let mut unfit: Option<i128> = None;
    let out = input.map(|&v| match (lookup(v), default) {
        (Some(i), _) => values[i],
        (None, Some(d)) => d,
        (None, None) => U::from_i128(v.to_i128()).unwrap_or_else(|| {
            unfit.get_or_insert(v.to_i128());
            U::default()
        }),
    });
    match unfit {
        Some(value) => Err(LabelsError::DoesNotFit { param: "dtype", value, dtype: U::DTYPE }),
        None => Ok(out),
    }
}

voxflow_core::op_doc!(
    "remap_labels",
    RemapLabels,
    "Replaces label values through `mapping` (others get `default`, or are kept when it is null), optionally into another label `dtype`; label maps only, the affine is kept.",
    r#"{"mapping": {"1": 2, "4": 3}}"#
);

#[typetag::serde(name = "remap_labels")]
impl Op for RemapLabels {
    fn output_facts(&self, inputs: &BTreeMap<String, Facts>) -> Result<Facts, OpError> {
        let input = inputs.get("volume").copied();
        let facts = Facts::label(self.dtype.or(input.and_then(|f| f.dtype)), input.and_then(|f| f.channels));
        Ok(facts.with_shape(self.output_shape(inputs)?))
    }

    fn ports(&self) -> &'static [voxflow_core::Port] {
        crate::common::LABEL_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if let Some(dtype) = self.dtype {
            for &v in self.mapping.values() {
                crate::common::check_fits("mapping", i128::from(v), dtype)?;
            }
            if let Some(d) = self.default {
                crate::common::check_fits("default", i128::from(d), dtype)?;
            }
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_labels(&mut inputs)?;
        let labels = volume.labels()?;
        let out_dtype = self.dtype.unwrap_or_else(|| labels.dtype());
        let out = with_labels!(labels, |a: T| {
            with_dtype!(
                out_dtype,
                U,
                remap_labels::<T, U>(a.view(), &self.mapping, self.default)?.into_label_array(),
                return Err(LabelsError::param("dtype", "label maps need an integer dtype").into())
            )
        });
        Ok(label_value(out, &volume))
    }
}
