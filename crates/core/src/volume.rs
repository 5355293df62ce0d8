//! The volume: voxels plus where they are in the world.

use crate::{CoreError, DType};
use ndarray::{Array3, Array4, ArrayView3, Axis, Zip};

/// Voxel-to-world transform (NIfTI/nibabel convention: voxel indices `(i, j, k, 1)` map to
/// world millimetres `(x, y, z, 1)`, RAS+).
pub type Affine = nalgebra::Matrix4<f64>;

/// An integer type a label map can be stored in. Labels keep their type end to end.
pub trait LabelType:
    Copy + Ord + std::hash::Hash + std::fmt::Debug + Default + Send + Sync + 'static
{
    const DTYPE: DType;
    /// The label as a wide integer (every supported label type fits in i128).
    fn to_i128(self) -> i128;
    /// Back from a wide integer; `None` when it does not fit.
    fn from_i128(value: i128) -> Option<Self>;
}

macro_rules! label_type {
    ($($t:ty => $d:ident),*) => {$(
        impl LabelType for $t {
            const DTYPE: DType = DType::$d;
            fn to_i128(self) -> i128 { i128::from(self) }
            fn from_i128(value: i128) -> Option<Self> { <$t>::try_from(value).ok() }
        }
    )*};
}
label_type!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, i64 => I64, u64 => U64);

/// A label map's voxels, in the integer type they were stored in.
///
/// Arrays are `[x, y, z, t]`: three spatial axes and a trailing frame axis (length 1 for 3D).
#[derive(Debug, Clone, PartialEq)]
pub enum LabelArray {
    U8(Array4<u8>),
    I8(Array4<i8>),
    U16(Array4<u16>),
    I16(Array4<i16>),
    U32(Array4<u32>),
    I32(Array4<i32>),
    I64(Array4<i64>),
    U64(Array4<u64>),
}

/// Runs `$body` with `$arr` bound to the typed array inside a [`LabelArray`], and `$T` to its
/// element type. The body must produce the same type for every variant.
#[macro_export]
macro_rules! with_labels {
    ($labels:expr, |$arr:ident: $T:ident| $body:expr) => {
        match $labels {
            $crate::LabelArray::U8($arr) => {
                #[allow(dead_code)]
                type $T = u8;
                $body
            }
            $crate::LabelArray::I8($arr) => {
                #[allow(dead_code)]
                type $T = i8;
                $body
            }
            $crate::LabelArray::U16($arr) => {
                #[allow(dead_code)]
                type $T = u16;
                $body
            }
            $crate::LabelArray::I16($arr) => {
                #[allow(dead_code)]
                type $T = i16;
                $body
            }
            $crate::LabelArray::U32($arr) => {
                #[allow(dead_code)]
                type $T = u32;
                $body
            }
            $crate::LabelArray::I32($arr) => {
                #[allow(dead_code)]
                type $T = i32;
                $body
            }
            $crate::LabelArray::I64($arr) => {
                #[allow(dead_code)]
                type $T = i64;
                $body
            }
            $crate::LabelArray::U64($arr) => {
                #[allow(dead_code)]
                type $T = u64;
                $body
            }
        }
    };
}

/// Like [`with_labels!`], but the body returns an `Array4` of the same element type, which is
/// wrapped back into the same [`LabelArray`] variant.
#[macro_export]
macro_rules! map_labels {
    ($labels:expr, |$arr:ident: $T:ident| $body:expr) => {
        match $labels {
            $crate::LabelArray::U8($arr) => {
                #[allow(dead_code)]
                type $T = u8;
                $crate::LabelArray::U8($body)
            }
            $crate::LabelArray::I8($arr) => {
                #[allow(dead_code)]
                type $T = i8;
                $crate::LabelArray::I8($body)
            }
            $crate::LabelArray::U16($arr) => {
                #[allow(dead_code)]
                type $T = u16;
                $crate::LabelArray::U16($body)
            }
            $crate::LabelArray::I16($arr) => {
                #[allow(dead_code)]
                type $T = i16;
                $crate::LabelArray::I16($body)
            }
            $crate::LabelArray::U32($arr) => {
                #[allow(dead_code)]
                type $T = u32;
                $crate::LabelArray::U32($body)
            }
            $crate::LabelArray::I32($arr) => {
                #[allow(dead_code)]
                type $T = i32;
                $crate::LabelArray::I32($body)
            }
            $crate::LabelArray::I64($arr) => {
                #[allow(dead_code)]
                type $T = i64;
                $crate::LabelArray::I64($body)
            }
            $crate::LabelArray::U64($arr) => {
                #[allow(dead_code)]
                type $T = u64;
                $crate::LabelArray::U64($body)
            }
        }
    };
}

impl LabelArray {
    #[must_use]
    pub fn dtype(&self) -> DType {
        with_labels!(self, |_a: T| T::DTYPE)
    }

    /// `[x, y, z, t]`.
    #[must_use]
    pub fn shape4(&self) -> [usize; 4] {
        with_labels!(self, |a: T| {
            let s = a.shape();
            [s[0], s[1], s[2], s[3]]
        })
    }
}

/// The voxels of a volume. Images compute in f32; label maps keep their integer type.
#[derive(Debug, Clone, PartialEq)]
pub enum Voxels {
    Image(Array4<f32>),
    Label(LabelArray),
}

/// A 3D volume (or a 4D one: frames along a trailing axis, which every op treats alike) with
/// its voxel-to-world affine.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    pub voxels: Voxels,
    /// Voxel index to world millimetres.
    pub affine: Affine,
    /// The dtype the voxels had on disk (for images, before scaling to f32). A writer uses it
    /// only when asked to keep the stored type.
    pub stored_dtype: DType,
}

impl Volume {
    /// An image from a 3D array (one frame).
    #[must_use]
    pub fn image3(data: Array3<f32>, affine: Affine) -> Self {
        Volume { voxels: Voxels::Image(data.insert_axis(Axis(3))), affine, stored_dtype: DType::F32 }
    }

    /// A label map from a 3D array (one frame).
    #[must_use]
    pub fn label3<T: LabelType>(data: Array3<T>, affine: Affine) -> Self
    where
        Array4<T>: IntoLabelArray,
    {
        Volume {
            voxels: Voxels::Label(data.insert_axis(Axis(3)).into_label_array()),
            affine,
            stored_dtype: T::DTYPE,
        }
    }

    /// `[x, y, z, t]`, with `t == 1` for a 3D volume.
    #[must_use]
    pub fn shape4(&self) -> [usize; 4] {
        match &self.voxels {
            Voxels::Image(a) => {
                let s = a.shape();
                [s[0], s[1], s[2], s[3]]
            }
            Voxels::Label(l) => l.shape4(),
        }
    }

    /// The spatial shape `[x, y, z]`.
    #[must_use]
    pub fn shape3(&self) -> [usize; 3] {
        let [x, y, z, _] = self.shape4();
        [x, y, z]
    }

    #[must_use]
    pub fn kind(&self) -> crate::Kind {
        match self.voxels {
            Voxels::Image(_) => crate::Kind::Image,
            Voxels::Label(_) => crate::Kind::Label,
        }
    }

    /// The dtype the voxels have in memory (f32 for images).
    #[must_use]
    pub fn dtype(&self) -> DType {
        match &self.voxels {
            Voxels::Image(_) => DType::F32,
            Voxels::Label(l) => l.dtype(),
        }
    }

    /// Voxel spacing in mm: the lengths of the affine's first three columns.
    #[must_use]
    pub fn spacing(&self) -> [f64; 3] {
        spacing(&self.affine)
    }

    /// The volume as an image: a label map's values become f32, as reading its file as an
    /// image would give (exact up to 2^24); an image is cloned.
    #[must_use]
    pub fn to_image(&self) -> Volume {
        let data = match &self.voxels {
            Voxels::Image(a) => a.clone(),
            Voxels::Label(l) => with_labels!(l, |a: T| a.mapv(|v| v.to_i128() as f32)),
        };
        Volume { voxels: Voxels::Image(data), affine: self.affine, stored_dtype: self.stored_dtype }
    }

    /// The image voxels, or an error naming what it is instead.
    pub fn image(&self) -> Result<&Array4<f32>, CoreError> {
        match &self.voxels {
            Voxels::Image(a) => Ok(a),
            Voxels::Label(_) => Err(CoreError::WrongKind { expected: "an image", got: "a label map" }),
        }
    }

    /// The label voxels, or an error naming what it is instead.
    pub fn labels(&self) -> Result<&LabelArray, CoreError> {
        match &self.voxels {
            Voxels::Label(l) => Ok(l),
            Voxels::Image(_) => Err(CoreError::WrongKind { expected: "a label map", got: "an image" }),
        }
    }

    /// Applies a per-frame kernel to every frame, for images and label maps alike, and keeps
    /// the affine. `image` maps an f32 frame; `label` maps a label frame of any type.
    #[must_use]
    pub fn map_frames(
        &self,
        image: impl Fn(ArrayView3<'_, f32>) -> Array3<f32> + Sync,
        label: &(impl LabelFrameFn + Sync),
    ) -> Volume {
        let voxels = match &self.voxels {
            Voxels::Image(a) => Voxels::Image(map_frames(a, &image)),
            Voxels::Label(l) => Voxels::Label(map_labels!(l, |a: T| map_frames(a, &|f| label.call::<T>(f)))),
        };
        Volume { voxels, affine: self.affine, stored_dtype: self.stored_dtype }
    }
}

/// A kernel generic over the label type, for [`Volume::map_frames`].
pub trait LabelFrameFn {
    fn call<T: LabelType>(&self, frame: ArrayView3<'_, T>) -> Array3<T>;
}

/// Applies `f` to each frame of `[x, y, z, t]` and stacks the results along the frame axis.
pub fn map_frames<T: Clone + Send + Sync>(
    data: &Array4<T>,
    f: &(dyn Fn(ArrayView3<'_, T>) -> Array3<T> + Sync),
) -> Array4<T> {
    let frames: Vec<Array3<T>> = data.axis_iter(Axis(3)).map(f).collect();
    stack_frames(&frames)
}

/// Stacks 3D frames along a new trailing axis, in Fortran (NIfTI) memory order.
#[must_use]
pub fn stack_frames<T: Clone>(frames: &[Array3<T>]) -> Array4<T> {
    let views: Vec<_> = frames.iter().map(|f| f.view().insert_axis(Axis(3))).collect();
    ndarray::concatenate(Axis(3), &views).expect("frames of one volume share a shape")
}

/// Voxel spacing in mm of an affine: the lengths of its first three columns.
#[must_use]
pub fn spacing(affine: &Affine) -> [f64; 3] {
    std::array::from_fn(|c| affine.fixed_view::<3, 1>(0, c).norm())
}

/// Converts a typed array into the matching [`LabelArray`] variant.
pub trait IntoLabelArray {
    fn into_label_array(self) -> LabelArray;
}

macro_rules! into_label {
    ($($t:ty => $v:ident),*) => {$(
        impl IntoLabelArray for Array4<$t> {
            fn into_label_array(self) -> LabelArray { LabelArray::$v(self) }
        }
    )*};
}
into_label!(u8 => U8, i8 => I8, u16 => U16, i16 => I16, u32 => U32, i32 => I32, i64 => I64, u64 => U64);

/// Sum, min and max of an image's finite voxels, in f64 (for summaries and snapshots).
#[must_use]
pub fn stats_f32(data: &Array4<f32>) -> (f64, f64, f64) {
    let mut sum = 0.0f64;
    let mut min = f64::INFINITY;
    let mut max = f64::NEG_INFINITY;
    Zip::from(data).for_each(|&v| {
        let v = f64::from(v);
        sum += v;
        min = min.min(v);
        max = max.max(v);
    });
    (sum, min, max)
}
