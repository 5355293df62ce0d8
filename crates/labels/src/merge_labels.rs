//! `merge_labels`: merges labels into (possibly overlapping) regions, BraTS style, as one
//! channel per region or as one nested label map.
//!
//! ```json
//! {"name": "regions", "op": "merge_labels", "params": {"regions": [
//!     {"name": "whole_tumor", "labels": [1, 2, 3]},
//!     {"name": "tumor_core", "labels": [1, 3]},
//!     {"name": "enhancing", "labels": [3]}], "output": "channels"}, "inputs": {"volume": "label"}}
//! ```
//! * `"channels"` (default): an f32 image with one frame per region, in the order given, 1
//!   where the voxel's label is one of the region's labels and 0 elsewhere:
//!   `np.stack([np.isin(x, r) for r in regions], -1).astype(np.float32)`. Takes a 3D label map.
//! * `"map"`: a label map (the input's dtype) where region `i` (from 1) is written over the
//!   regions before it: `out = zeros; for i, r in enumerate(regions, 1): out[np.isin(x, r)] = i`,
//!   which is how nnU-Net's region-based training stores nested regions. Each frame alone.
//!
//! Regions are a list, not a JSON object: graph parameters pass through `serde_json::Value`,
//! whose objects are sorted by key (serde_json's `preserve_order` is off in this workspace), so
//! an object would lose the order the channels and the overwriting depend on.

use crate::LabelsError;
use crate::common::{
    LABEL_PORTS, Lookup, check_unique, image_value, label_value, map_label_frames, single_frame,
    single_volume, take_labels, to_label,
};
use ndarray::{Array4, ArrayView3, Axis, ShapeBuilder, Zip};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::{
    Facts, Inputs, Kind, LabelType, Op, OpError, Port, RunContext, Value, Volume, map_labels, with_labels,
};

/// One region: a name (for people and manifests) and the labels it is made of.
///
/// ```
/// use voxflow_labels::merge_labels::Region;
/// let core = Region { name: "tumor_core".into(), labels: vec![1, 3] };
/// let json = r#"{"name": "tumor_core", "labels": [1, 3]}"#;
/// assert_eq!(serde_json::from_str::<Region>(json)?, core);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// The region's name, e.g. `whole_tumor` (required, unique).
    pub name: String,
    /// The labels that belong to it (required, not empty).
    pub labels: Vec<i64>,
}

/// What `merge_labels` outputs.
///
/// ```
/// use voxflow_core::{Affine, Kind, Volume};
/// use voxflow_labels::merge_labels::{MergeLabels, MergeOutput};
/// let label = Volume::label3(ndarray::array![[[0u8, 1, 2]]], Affine::identity());
/// let channels = MergeLabels::default().apply(&label)?;
/// let map = MergeLabels { output: MergeOutput::Map, ..Default::default() }.apply(&label)?;
/// assert_eq!((channels.kind(), map.kind()), (Kind::Image, Kind::Label));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MergeOutput {
    /// An f32 image, one 0/1 frame per region.
    #[default]
    Channels,
    /// A label map: region `i` (1-based) over the regions before it, 0 elsewhere.
    Map,
}

/// Parameters of `merge_labels`.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_labels::merge_labels::{MergeLabels, Region};
/// let region = |name: &str, labels: &[i64]| Region { name: name.into(), labels: labels.to_vec() };
/// let regions = vec![region("whole", &[1, 2, 3]), region("core", &[1, 3]), region("enhancing", &[3])];
/// let brats = MergeLabels { regions, ..Default::default() };
/// let label = Volume::label3(ndarray::array![[[0u8, 1, 2, 3]]], Affine::identity());
/// let out = brats.apply(&label)?;
/// assert_eq!(out.shape4(), [1, 1, 4, 3]); // one 0/1 channel per region
/// assert_eq!(out.image()?.sum(), 6.0); // 3 + 2 + 1 voxels in the three regions
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeLabels {
    /// The regions, in order (required, not empty): `[{"name": .., "labels": [..]}, ..]`.
    pub regions: Vec<Region>,
    /// `"channels"` (default) or `"map"`.
    #[serde(default)]
    pub output: MergeOutput,
}

/// One region, `foreground`, of label 1, as channels: on a binary mask, the mask as one f32
/// channel (with `output: map`, the mask itself).
impl Default for MergeLabels {
    fn default() -> Self {
        MergeLabels {
            regions: vec![Region { name: "foreground".to_owned(), labels: vec![1] }],
            output: MergeOutput::default(),
        }
    }
}

impl MergeLabels {
    /// Runs `merge_labels` on a label map (what its graph node does): an f32 image of one
    /// channel per region (3D label maps only) or a nested label map (input's dtype), on the
    /// same affine.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_labels::merge_labels::{MergeLabels, MergeOutput, Region};
    /// let regions = vec![
    ///     Region { name: "whole".into(), labels: vec![4, 7] },
    ///     Region { name: "core".into(), labels: vec![7] },
    /// ];
    /// let label = Volume::label3(ndarray::array![[[0u8, 4, 7]]], Affine::identity());
    /// let nested = MergeLabels { regions, output: MergeOutput::Map }.apply(&label)?;
    /// // 7 is in both regions: the later one (2) is written over the earlier one (1).
    /// assert_eq!(nested, Volume::label3(ndarray::array![[[0u8, 1, 2]]], Affine::identity()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// One f32 frame per region: 1 where the label is one of the region's labels.
#[must_use]
pub(crate) fn region_channels<T: LabelType>(frame: ArrayView3<'_, T>, regions: &[Region]) -> Array4<f32> {
    let (x, y, z) = frame.dim();
    let mut out = Array4::<f32>::zeros((x, y, z, regions.len()).f());
    for (mut channel, region) in out.axis_iter_mut(Axis(3)).zip(regions) {
        let table = Lookup::new(region.labels.iter().map(|&l| i128::from(l)));
        let mut lookup = table.cached::<T>();
        Zip::from(&mut channel).and(&frame).for_each(|o, &v| {
            if lookup(v).is_some() {
                *o = 1.0;
            }
        });
    }
    out
}

/// The nested label map: the (1-based) index of the last region holding the label, else 0.
pub(crate) fn region_map<T: LabelType>(
    frame: ArrayView3<'_, T>,
    regions: &[Region],
) -> Result<ndarray::Array3<T>, LabelsError> {
    // label → the last region that lists it.
    let mut last: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, r) in regions.iter().enumerate() {
        for &l in &r.labels {
            last.insert(l, i + 1);
        }
    }
    let values: Vec<T> =
        last.values().map(|&i| to_label::<T>("regions", i as i128)).collect::<Result<_, _>>()?;
    let table = Lookup::new(last.keys().map(|&l| i128::from(l)));
    let mut lookup = table.cached::<T>();
    Ok(frame.map(|&v| lookup(v).map_or(T::default(), |i| values[i])))
}

voxflow_core::op_doc!(
    "merge_labels",
    MergeLabels,
    "Merges labels into ordered, possibly overlapping regions (BraTS style): one 0/1 image frame per region (`output: channels`) or a label map where later regions overwrite earlier ones with 1..N (`output: map`).",
    r#"{"regions": [{"name": "whole_tumor", "labels": [1, 2, 3]}, {"name": "tumor_core", "labels": [1, 3]}, {"name": "enhancing", "labels": [3]}]}"#
);

#[typetag::serde(name = "merge_labels")]
impl Op for MergeLabels {
    fn ports(&self) -> &'static [Port] {
        LABEL_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.regions.is_empty() {
            return Err(LabelsError::param("regions", "give at least one region").into());
        }
        let mut names = std::collections::BTreeSet::new();
        for r in &self.regions {
            if r.name.is_empty() {
                return Err(LabelsError::param("regions", "a region has an empty `name`").into());
            }
            if !names.insert(r.name.as_str()) {
                return Err(
                    LabelsError::param("regions", format!("region `{}` is named twice", r.name)).into()
                );
            }
            if r.labels.is_empty() {
                return Err(
                    LabelsError::param("regions", format!("region `{}` has no labels", r.name)).into()
                );
            }
            check_unique("regions", &r.labels)?;
        }
        Ok(())
    }

    fn output_kind(&self, _inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        Ok(match self.output {
            MergeOutput::Channels => Kind::Image,
            MergeOutput::Map => Kind::Label,
        })
    }

    fn output_facts(&self, inputs: &BTreeMap<String, Facts>) -> Result<Facts, OpError> {
        let input = inputs.get("volume").copied();
        let facts = match self.output {
            MergeOutput::Channels => {
                single_volume(inputs, "merge_labels")?;
                Facts::image(Some(self.regions.len()))
            }
            MergeOutput::Map => Facts::label(input.and_then(|f| f.dtype), input.and_then(|f| f.channels)),
        };
        Ok(facts.with_shape(self.output_shape(inputs)?))
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_labels(&mut inputs)?;
        let labels = volume.labels()?;
        match self.output {
            MergeOutput::Channels => {
                let out = with_labels!(labels, |a: T| region_channels::<T>(
                    single_frame(a, "merge_labels")?,
                    &self.regions
                ));
                Ok(image_value(out, &volume))
            }
            MergeOutput::Map => {
                let out =
                    map_labels!(labels, |a: T| map_label_frames(a, |f| region_map::<T>(f, &self.regions))?);
                Ok(label_value(out, &volume))
            }
        }
    }
}
