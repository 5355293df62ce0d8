//! What the label ops share: the label mask, output dtypes, the node plumbing, and a fast
//! lookup from label values to table entries.

use crate::LabelsError;
use ndarray::{Array4, ArrayView3, Axis};
use serde::{Deserialize, Deserializer, Serializer};
use std::sync::Arc;
use voxflow_core::{
    DType, Facts, Inputs, LabelArray, LabelType, OpError, Value, Volume, Voxels, with_labels,
};

/// `label != 0`, or `label` is one of `labels`, for every voxel of every frame.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// let label = Volume::label3(ndarray::array![[[0u8, 1, 2]]], Affine::identity());
/// let nonzero = voxflow_labels::mask(label.labels()?, None);
/// assert_eq!(nonzero.iter().copied().collect::<Vec<bool>>(), [false, true, true]);
/// let twos = voxflow_labels::mask(label.labels()?, Some(&[2]));
/// assert_eq!(twos.iter().copied().collect::<Vec<bool>>(), [false, false, true]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn mask(labels: &LabelArray, which: Option<&[i64]>) -> Array4<bool> {
    fn test<T: LabelType>(v: T, which: Option<&[i64]>) -> bool {
        match which {
            None => v != T::default(),
            Some(ls) => ls.iter().any(|&l| i128::from(l) == v.to_i128()),
        }
    }
    with_labels!(labels, |a: T| a.map(|&v| test::<T>(v, which)))
}

/// Takes the `volume` input and checks that it is a label map.
pub(crate) fn take_labels(inputs: &mut Inputs) -> Result<Arc<Volume>, OpError> {
    let volume = inputs.volume("volume")?;
    if let Voxels::Image(_) = volume.voxels {
        return Err(LabelsError::Input("this op takes a label map, got an image".into()).into());
    }
    Ok(volume)
}

/// A label volume on `like`'s grid, stored as its own dtype.
pub(crate) fn label_value(labels: LabelArray, like: &Volume) -> Value {
    let stored_dtype = labels.dtype();
    Value::Volume(Arc::new(Volume { voxels: Voxels::Label(labels), affine: like.affine, stored_dtype }))
}

/// An f32 image on `like`'s grid, stored as float32.
pub(crate) fn image_value(data: Array4<f32>, like: &Volume) -> Value {
    Value::Volume(Arc::new(Volume {
        voxels: Voxels::Image(data),
        affine: like.affine,
        stored_dtype: DType::F32,
    }))
}

/// Checks that `value` fits `dtype`.
pub(crate) fn check_fits(param: &'static str, value: i128, dtype: DType) -> Result<(), LabelsError> {
    let fits = match dtype {
        DType::U8 => u8::try_from(value).is_ok(),
        DType::I8 => i8::try_from(value).is_ok(),
        DType::U16 => u16::try_from(value).is_ok(),
        DType::I16 => i16::try_from(value).is_ok(),
        DType::U32 => u32::try_from(value).is_ok(),
        DType::I32 => i32::try_from(value).is_ok(),
        DType::I64 => i64::try_from(value).is_ok(),
        DType::U64 => u64::try_from(value).is_ok(),
        DType::F32 | DType::F64 => false,
    };
    if fits { Ok(()) } else { Err(LabelsError::DoesNotFit { param, value, dtype }) }
}

/// Converts a label to `T`, or an error naming `param`.
pub(crate) fn to_label<T: LabelType>(param: &'static str, value: i128) -> Result<T, LabelsError> {
    T::from_i128(value).ok_or(LabelsError::DoesNotFit { param, value, dtype: T::DTYPE })
}

/// Reads a label dtype by numpy's name (`uint8`, `int16`, ...) or voxflow's (`u8`, `i16`, as
/// `save` takes them); floats are refused.
pub(crate) fn parse_label_dtype(name: &str) -> Result<DType, String> {
    match DType::from_name(name) {
        Some(dtype) if dtype.is_integer() => Ok(dtype),
        Some(_) => Err(format!("label maps need an integer dtype, got `{name}`")),
        None => Err(format!(
            "unknown dtype `{name}`: expected one of uint8, int8, uint16, int16, uint32, int32, int64, uint64"
        )),
    }
}

/// serde for an optional label dtype, written with numpy's names.
pub(crate) mod opt_dtype {
    use super::{DType, Deserialize, Deserializer, Serializer, parse_label_dtype};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DType>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| parse_label_dtype(&s).map_err(serde::de::Error::custom))
            .transpose()
    }

    // serde's `with` passes the field by reference.
    #[allow(clippy::ref_option, clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn serialize<S: Serializer>(v: &Option<DType>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(d) => s.serialize_some(d.numpy_name()),
            None => s.serialize_none(),
        }
    }
}

/// serde for a label dtype, written with numpy's names.
pub(crate) mod label_dtype {
    use super::{DType, Deserialize, Deserializer, Serializer, parse_label_dtype};

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DType, D::Error> {
        parse_label_dtype(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    // serde's `with` passes the field by reference.
    #[allow(clippy::trivially_copy_pass_by_ref)]
    pub(crate) fn serialize<S: Serializer>(v: &DType, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v.numpy_name())
    }
}

/// Runs `$body` with `$T` bound to the label type of `$dtype` (an integer [`DType`]); a float
/// dtype gives `$float`.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident, $body:expr, $float:expr) => {
        match $dtype {
            voxflow_core::DType::U8 => {
                type $T = u8;
                $body
            }
            voxflow_core::DType::I8 => {
                type $T = i8;
                $body
            }
            voxflow_core::DType::U16 => {
                type $T = u16;
                $body
            }
            voxflow_core::DType::I16 => {
                type $T = i16;
                $body
            }
            voxflow_core::DType::U32 => {
                type $T = u32;
                $body
            }
            voxflow_core::DType::I32 => {
                type $T = i32;
                $body
            }
            voxflow_core::DType::I64 => {
                type $T = i64;
                $body
            }
            voxflow_core::DType::U64 => {
                type $T = u64;
                $body
            }
            voxflow_core::DType::F32 | voxflow_core::DType::F64 => $float,
        }
    };
}
pub(crate) use with_dtype;

/// A lookup from label values to the index of the entry that lists them, for tables given as
/// parameters (mapping keys, classes, regions' labels). Remembers the last value looked up:
/// label maps are long runs of one value.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    /// `(value, entry)`, sorted by value; a value listed twice keeps its first entry.
    sorted: Vec<(i128, usize)>,
}

impl Lookup {
    pub(crate) fn new(values: impl IntoIterator<Item = i128>) -> Self {
        let mut sorted: Vec<(i128, usize)> = values.into_iter().enumerate().map(|(i, v)| (v, i)).collect();
        sorted.sort_unstable();
        sorted.dedup_by_key(|e| e.0);
        Lookup { sorted }
    }

    #[inline]
    pub(crate) fn get(&self, value: i128) -> Option<usize> {
        self.sorted.binary_search_by_key(&value, |e| e.0).ok().map(|i| self.sorted[i].1)
    }

    /// A per-voxel lookup with a one-value cache.
    pub(crate) fn cached<T: LabelType>(&self) -> impl FnMut(T) -> Option<usize> + '_ {
        let mut last: Option<(T, Option<usize>)> = None;
        move |v: T| match last {
            Some((lv, hit)) if lv == v => hit,
            _ => {
                let hit = self.get(v.to_i128());
                last = Some((v, hit));
                hit
            }
        }
    }
}

/// Frame `t` of a label array as a view (for per-frame kernels).
pub(crate) fn frames<T>(a: &Array4<T>) -> impl Iterator<Item = ArrayView3<'_, T>> {
    a.axis_iter(Axis(3))
}

/// Duplicate values in a list parameter, as an error naming it.
pub(crate) fn check_unique(param: &'static str, values: &[i64]) -> Result<(), LabelsError> {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    match sorted.windows(2).find(|w| w[0] == w[1]) {
        Some(w) => Err(LabelsError::param(param, format!("{} is listed twice", w[0]))),
        None => Ok(()),
    }
}

/// Runs a per-frame kernel over every frame of `[x, y, z, t]` and stacks the results.
pub(crate) fn map_label_frames<T: Clone, E>(
    data: &Array4<T>,
    f: impl Fn(ArrayView3<'_, T>) -> Result<ndarray::Array3<T>, E>,
) -> Result<Array4<T>, E> {
    let mut out: Vec<ndarray::Array3<T>> = frames(data).map(f).collect::<Result<_, _>>()?;
    Ok(if out.len() == 1 {
        out.swap_remove(0).insert_axis(Axis(3))
    } else {
        voxflow_core::volume::stack_frames(&out)
    })
}

/// The only frame of a one-frame label map; ops whose output adds a channel axis (`one_hot`,
/// `merge_labels` as channels) take 3D label maps only.
pub(crate) fn single_frame<'a, T>(data: &'a Array4<T>, op: &str) -> Result<ArrayView3<'a, T>, LabelsError> {
    let t = data.shape()[3];
    if t == 1 {
        Ok(data.index_axis(Axis(3), 0))
    } else {
        Err(LabelsError::Input(format!("{op} takes a 3D label map (one frame), got {t} frames")))
    }
}

/// The single label-map input, named `volume`.
pub(crate) const LABEL_PORTS: &[voxflow_core::Port] =
    &[voxflow_core::Port { name: "volume", accepts: &[voxflow_core::Kind::Label], required: true }];

/// The JSON Schema of a label dtype parameter: numpy's names (as `dataset.json` and nibabel
/// spell them) or voxflow's short ones (as `save` takes them).
pub(crate) struct LabelDTypeName;

impl schemars::JsonSchema for LabelDTypeName {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LabelDType".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "An integer label dtype.",
            "type": "string",
            "enum": ["uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64",
                     "u8", "i8", "u16", "i16", "u32", "i32", "u64", "i64"]
        })
    }
}

/// Refuses, when the graph is validated, an input whose 4th axis is known to hold several
/// channels, for ops that need one 3D volume.
pub(crate) fn single_volume(
    inputs: &std::collections::BTreeMap<String, Facts>,
    op: &str,
) -> Result<(), OpError> {
    match inputs.get("volume").and_then(|f| f.channels) {
        Some(n) if n > 1 => Err(OpError::Input {
            port: "volume".into(),
            message: format!("{op} needs a single 3D label map, got {n} channels"),
        }),
        _ => Ok(()),
    }
}
