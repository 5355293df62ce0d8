//! Spatial ops on volumes with their affine.
//!
//! One resampling core ([`resample`]) pulls an output grid back through a 4x4 voxel matrix onto
//! the input. Grid ops (resize, resample to spacing, crop, pad, reorient) change the grid and
//! update the affine so the anatomy stays where it is in world space. Augmentations (flip,
//! rotate, scale, shift, affine) move the anatomy on the same grid, in millimetres about the
//! volume's physical centre. In a graph, spatial ops hand each other [`voxflow_core::Deferred`]
//! values and resample once ([`spatial`]).
//!
//! The exact grid ops (flip, crop, pad, crop-or-pad, crop to the non-zero box, reorient, rot90,
//! transpose) never interpolate: on a volume in memory they copy voxels (row by row, at memory
//! speed); on a pending resample they compose their index matrix into it, so a chain of spatial
//! ops still resamples once.

mod error;
pub mod resample;
pub mod spatial;

// Ops: one file each (parameter struct, kernel, random sampler if any, node).
pub mod affine;
pub mod crop;
pub mod crop_nonzero;
pub mod crop_or_pad;
pub mod flip;
pub mod foreground_crop;
pub mod pad;
pub mod pad_to_multiple;
pub mod reorient;
pub mod resample_to;
pub mod resample_to_spacing;
pub mod resize;
pub mod rot90;
pub mod rotate;
pub mod scale;
pub mod shift;
pub mod transpose;
pub mod weighted_crop;

pub use error::GeometryError;

/// Links this crate's ops into a binary. typetag registers ops at link time, and a crate the
/// binary never references is not linked, so the runner calls this once per op crate.
///
/// ```
/// voxflow_geometry::register();
/// assert!(voxflow_core::op_docs().any(|doc| doc.name == "rotate"));
/// ```
pub fn register() {}

/// Plumbing shared by the exact grid ops (flip, crop, pad, crop-or-pad, reorient).
pub(crate) mod grid {
    use nalgebra::Matrix4;
    use ndarray::{Array3, ArrayView3, Axis};
    use std::sync::Arc;
    use voxflow_core::volume::{IntoLabelArray, stack_frames};
    use voxflow_core::{Affine, Deferred, Inputs, LabelType, OpError, RunContext, Value, Volume, Voxels};

    /// A voxel type a grid kernel can copy: f32 for images, the label types for label maps.
    pub trait Voxel: Copy + Default + Send + Sync + 'static {
        /// The value as this type, or `None` when it cannot be stored exactly (a label fill of
        /// 0.5 or -1 for an unsigned type).
        fn from_f64(value: f64) -> Option<Self>;
    }

    impl Voxel for f32 {
        fn from_f64(value: f64) -> Option<Self> {
            Some(value as f32)
        }
    }

    macro_rules! label_voxel {
        ($($t:ty),*) => {$(
            impl Voxel for $t {
                fn from_f64(value: f64) -> Option<Self> {
                    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e38 {
                        <$t as LabelType>::from_i128(value as i128)
                    } else {
                        None
                    }
                }
            }
        )*};
    }
    label_voxel!(u8, i8, u16, i16, u32, i32, i64, u64);

    /// A per-frame kernel generic over the voxel type.
    pub trait FrameKernel: Sync {
        /// Maps one 3D frame; `fill` is the op's fill value in the frame's type.
        fn frame<T: Voxel>(&self, frame: ArrayView3<'_, T>, fill: T) -> Array3<T>;
    }

    fn frames<T: Voxel>(data: &ndarray::Array4<T>, fill: T, kernel: &impl FrameKernel) -> ndarray::Array4<T> {
        if data.shape()[3] == 1 {
            // The common 3D case: no stacking copy.
            return kernel.frame(data.index_axis(Axis(3), 0), fill).insert_axis(Axis(3));
        }
        let out: Vec<Array3<T>> = data.axis_iter(Axis(3)).map(|f| kernel.frame(f, fill)).collect();
        stack_frames(&out)
    }

    /// Runs `kernel` on every frame of `volume` and gives the result `affine`. `fill` (named by
    /// the parameter `fill_param` in errors) is converted to the volume's voxel type.
    pub fn map_volume(
        volume: &Volume,
        affine: Affine,
        fill: f64,
        fill_param: &'static str,
        kernel: &impl FrameKernel,
    ) -> Result<Volume, OpError> {
        let voxels = match &volume.voxels {
            Voxels::Image(a) => Voxels::Image(frames(a, fill as f32, kernel)),
            Voxels::Label(l) => Voxels::Label(voxflow_core::with_labels!(l, |a: T| {
                let fill = <T as Voxel>::from_f64(fill).ok_or_else(|| {
                    OpError::param(
                        fill_param,
                        format!("{fill} cannot be stored in a {} label map", <T as LabelType>::DTYPE),
                    )
                })?;
                frames(a, fill, kernel).into_label_array()
            })),
        };
        Ok(Volume { voxels, affine, stored_dtype: volume.stored_dtype })
    }

    /// Composes an exact index map into a pending resample: `index` maps a voxel of the new grid
    /// (of `shape`) to a voxel of the pending output grid. With `move_grid` the new grid's affine
    /// follows (grid ops: the anatomy stays put in world space); without it the affine is kept
    /// (augmentations such as flip: the anatomy moves on the same grid). `None` when the pending
    /// resample carries a displacement field (defined on its own output grid), which must be
    /// resampled first.
    #[must_use]
    pub fn compose(
        pending: &Deferred,
        shape: [usize; 3],
        index: &Matrix4<f64>,
        move_grid: bool,
    ) -> Option<Deferred> {
        if pending.spec.field.is_some() {
            return None;
        }
        let mut spec = pending.spec.clone();
        spec.out_to_in *= index;
        if move_grid {
            spec.affine *= index;
        }
        spec.shape = shape;
        Some(Deferred { source: Arc::clone(&pending.source), spec })
    }

    /// The usual body of a grid op's `run`: a volume in memory goes through `eager`; a pending
    /// resample goes through `lazy` (composition), or is resampled first when `lazy` declines.
    pub fn run(
        ctx: &RunContext<'_>,
        mut inputs: Inputs,
        lazy: impl FnOnce(&Deferred) -> Result<Option<Deferred>, OpError>,
        eager: impl FnOnce(&Volume) -> Result<Volume, OpError>,
    ) -> Result<Value, OpError> {
        match inputs.take("volume")? {
            Value::Volume(v) => Ok(Value::Volume(Arc::new(eager(&v)?))),
            Value::Deferred(pending) => {
                if let Some(d) = lazy(&pending)? {
                    Ok(Value::Deferred(d))
                } else {
                    let v = (ctx.materialize)(&pending)?;
                    Ok(Value::Volume(Arc::new(eager(&v)?)))
                }
            }
            Value::Draw(_) => Err(OpError::Input {
                port: "volume".into(),
                message: "expected a volume, got a draw (connect draws to an `apply` node)".into(),
            }),
        }
    }

    /// The spatial shape of a value on an edge (a pending resample's output shape).
    #[must_use]
    pub fn shape_of(value: &Value) -> Option<[usize; 3]> {
        match value {
            Value::Volume(v) => Some(v.shape3()),
            Value::Deferred(d) => Some(d.spec.shape),
            Value::Draw(_) => None,
        }
    }

    /// A homogeneous translation by whole voxels.
    #[must_use]
    pub fn translation(offset: [f64; 3]) -> Matrix4<f64> {
        let mut m = Matrix4::identity();
        for (a, o) in offset.into_iter().enumerate() {
            m[(a, 3)] = o;
        }
        m
    }

    /// Where the memory of a 3D view runs contiguously.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Layout {
        /// Last axis fastest (C, numpy's default).
        C,
        /// First axis fastest (Fortran, NIfTI's order on disk).
        F,
    }

    /// Runs a kernel written for C-contiguous input on any view. A Fortran-ordered view is seen
    /// as the C-ordered view of its reversed axes (no copy): `kernel` receives the axis-reversed
    /// slice and a flag saying so, and its output is reversed back, so output keeps the input's
    /// memory order. Other layouts are copied to C order first.
    pub fn with_c_layout<T: Copy, R>(
        view: ArrayView3<'_, T>,
        kernel: impl FnOnce(&[T], [usize; 3], Layout) -> Array3<R>,
    ) -> Array3<R> {
        let s = view.shape();
        let shape = [s[0], s[1], s[2]];
        if let Some(slice) = view.as_slice() {
            return kernel(slice, shape, Layout::C);
        }
        let reversed = view.reversed_axes();
        if let Some(slice) = reversed.as_slice() {
            return kernel(slice, [shape[2], shape[1], shape[0]], Layout::F).reversed_axes();
        }
        let owned = view.as_standard_layout();
        kernel(owned.as_slice().expect("standard layout is contiguous"), shape, Layout::C)
    }
}
