//! `pad`: adds voxels around the volume (numpy.pad), and the window kernel that crop and
//! crop-or-pad share.
//!
//! The affine's origin moves by the padding before each axis, so the anatomy stays where it is
//! in world space: voxel `(i, j, k)` of the input is voxel `(i + before_x, j + before_y, k +
//! before_z)` of the output, at the same world coordinate.
//!
//! ```json
//! {"name": "padded", "op": "pad", "params": {"before": [2, 2, 0], "after": [2, 2, 0], "mode": "edge"}}
//! ```

use crate::grid::{self, FrameKernel, Layout, Voxel};
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, Op, OpError, RunContext, Value, Volume};

/// What the new voxels hold (numpy.pad's modes of the same names).
///
/// ```
/// use voxflow_geometry::pad::{PadMode, pad};
///
/// let a = ndarray::Array3::from_shape_vec((3, 1, 1), vec![1.0f32, 2.0, 3.0])?;
/// let padded = |mode| pad(a.view(), [2, 0, 0], [0, 0, 0], mode, 0.0).into_iter().collect::<Vec<_>>();
/// assert_eq!(padded(PadMode::Constant), [0.0, 0.0, 1.0, 2.0, 3.0]);
/// assert_eq!(padded(PadMode::Edge), [1.0, 1.0, 1.0, 2.0, 3.0]);
/// assert_eq!(padded(PadMode::Reflect), [3.0, 2.0, 1.0, 2.0, 3.0]);
/// assert_eq!(padded(PadMode::Symmetric), [2.0, 1.0, 1.0, 2.0, 3.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// A constant value (the op's `value`; for label maps a label, 0 by default).
    #[default]
    Constant,
    /// The edge voxel repeated (numpy `edge`).
    Edge,
    /// Mirrored about the edge voxel, which is not repeated: `d c b | a b c d | c b a` (numpy
    /// `reflect`, scipy `mirror`).
    Reflect,
    /// Mirrored about the edge, which is repeated: `c b a | a b c d | d c b` (numpy `symmetric`,
    /// scipy `reflect`).
    Symmetric,
}

impl PadMode {
    /// The input index that output position `i` (an index into the input's axis of length `n`,
    /// possibly outside `0..n`) reads, or `None` for the constant.
    #[must_use]
    pub(crate) fn source(self, i: i64, n: usize) -> Option<usize> {
        let n = n as i64;
        if (0..n).contains(&i) {
            return Some(i as usize);
        }
        if n == 0 {
            return None;
        }
        let j = match self {
            PadMode::Constant => return None,
            PadMode::Edge => i.clamp(0, n - 1),
            PadMode::Reflect => {
                if n == 1 {
                    0
                } else {
                    let period = 2 * (n - 1);
                    let m = i.rem_euclid(period);
                    if m < n { m } else { period - m }
                }
            }
            PadMode::Symmetric => {
                let period = 2 * n;
                let m = i.rem_euclid(period);
                if m < n { m } else { period - 1 - m }
            }
        };
        Some(j as usize)
    }
}

/// Pads `before`/`after` voxels on each axis of the volume.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::{crop::Crop, pad::Pad};
///
/// let data = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32);
/// let volume = Volume::image3(data, Affine::identity());
/// let padded = Pad { before: [2, 1, 0], after: [1, 1, 3], ..Default::default() }.apply(&volume)?;
/// assert_eq!(padded.shape3(), [11, 10, 11]);
/// // Cropping the padding off again gives back the volume, affine included.
/// let back = Crop { start: Some([2, 1, 0]), size: [8, 8, 8], ..Default::default() }.apply(&padded)?;
/// assert_eq!(back, volume);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Pad {
    /// Voxels added before voxel 0 on each axis `[x, y, z]`. Default `[0, 0, 0]`.
    #[serde(default)]
    pub before: [usize; 3],
    /// Voxels added after the last voxel on each axis. Default `[0, 0, 0]`.
    #[serde(default)]
    pub after: [usize; 3],
    /// What the new voxels hold. Default `constant`.
    #[serde(default)]
    pub mode: PadMode,
    /// The constant for `mode: "constant"` (for a label map it must be a value its type can
    /// hold). Default 0.
    #[serde(default)]
    pub value: f64,
}

/// No padding, the graph's mode and value.
impl Default for Pad {
    fn default() -> Self {
        Pad { before: [0; 3], after: [0; 3], mode: PadMode::default(), value: 0.0 }
    }
}

/// Copies a window of `size` voxels starting at `start` (which may lie outside the input; what
/// is outside reads per `mode`, `fill` for the constant) out of `input`. The output keeps the
/// input's memory order; rows along the contiguous axis are copied with `memcpy`.
#[must_use]
pub(crate) fn window<T: Voxel>(
    input: ArrayView3<'_, T>,
    start: [i64; 3],
    size: [usize; 3],
    mode: PadMode,
    fill: T,
) -> Array3<T> {
    grid::with_c_layout(input, |src, n, layout| {
        let (start, size) = match layout {
            Layout::C => (start, size),
            Layout::F => ([start[2], start[1], start[0]], [size[2], size[1], size[0]]),
        };
        Array3::from_shape_vec(size, window_c(src, n, start, size, mode, fill))
            .expect("the window's length is its shape's product")
    })
}

/// [`window`] on a C-ordered slice of shape `n`.
fn window_c<T: Voxel>(
    src: &[T],
    n: [usize; 3],
    start: [i64; 3],
    size: [usize; 3],
    mode: PadMode,
    fill: T,
) -> Vec<T> {
    let table = |a: usize| -> Vec<Option<usize>> {
        (0..size[a]).map(|o| mode.source(start[a] + o as i64, n[a])).collect()
    };
    let (t0, t1, t2) = (table(0), table(1), table(2));
    // The run of the row that maps straight onto the input row (copied with memcpy).
    let lo = (-start[2]).clamp(0, size[2] as i64) as usize;
    let hi = (n[2] as i64 - start[2]).clamp(lo as i64, size[2] as i64) as usize;
    let mut out = vec![fill; size.iter().product()];
    let slab_len = size[1] * size[2];
    if slab_len == 0 {
        return out;
    }
    out.par_chunks_mut(slab_len).zip(t0.par_iter()).for_each(|(slab, i0)| {
        let Some(i0) = *i0 else { return };
        for (row, i1) in slab.chunks_mut(size[2]).zip(&t1) {
            let Some(i1) = *i1 else { continue };
            let src_row = &src[(i0 * n[1] + i1) * n[2]..][..n[2]];
            if hi > lo {
                let s = (lo as i64 + start[2]) as usize;
                row[lo..hi].copy_from_slice(&src_row[s..s + hi - lo]);
            }
            for o in (0..lo).chain(hi..size[2]) {
                if let Some(i2) = t2[o] {
                    row[o] = src_row[i2];
                }
            }
        }
    });
    out
}

/// Pads a frame (numpy.pad with `((bx, ax), (by, ay), (bz, az))`); `fill` is the constant of
/// [`PadMode::Constant`].
///
/// ```
/// use voxflow_geometry::pad::{PadMode, pad};
///
/// let a = ndarray::Array3::from_shape_fn((4, 3, 2), |(i, j, k)| (i + j + k) as f32);
/// let out = pad(a.view(), [1, 0, 0], [0, 0, 2], PadMode::Constant, -1.0);
/// assert_eq!(out.shape(), [5, 3, 4]);
/// assert_eq!((out[[0, 0, 0]], out[[1, 2, 1]], out[[1, 2, 3]]), (-1.0, a[[0, 2, 1]], -1.0));
/// ```
#[must_use]
pub fn pad<T: Voxel>(
    input: ArrayView3<'_, T>,
    before: [usize; 3],
    after: [usize; 3],
    mode: PadMode,
    fill: T,
) -> Array3<T> {
    let s = input.shape();
    let size = [s[0] + before[0] + after[0], s[1] + before[1] + after[1], s[2] + before[2] + after[2]];
    window(input, before.map(|b| -(b as i64)), size, mode, fill)
}

/// A window on every frame of a volume, as a grid op: the affine's origin moves to the world
/// position of the window's first voxel.
pub(crate) struct Window {
    pub start: [i64; 3],
    pub size: [usize; 3],
    pub mode: PadMode,
    /// The parameter that decides the size (named when it is over the memory budget).
    pub size_param: &'static str,
}

impl FrameKernel for Window {
    fn frame<T: Voxel>(&self, frame: ArrayView3<'_, T>, fill: T) -> Array3<T> {
        window(frame, self.start, self.size, self.mode, fill)
    }
}

impl Window {
    /// The window on a volume in memory.
    pub fn volume(&self, volume: &Volume, fill: f64, fill_param: &'static str) -> Result<Volume, OpError> {
        self.check_budget(volume.shape4()[3])?;
        let affine = volume.affine * grid::translation(self.start.map(|s| s as f64));
        grid::map_volume(volume, affine, fill, fill_param, self)
    }

    /// The window's output against the memory budget, before anything is allocated.
    fn check_budget(&self, frames: usize) -> Result<(), OpError> {
        voxflow_core::memory::check_buffer(&[self.size[0], self.size[1], self.size[2], frames], 4)
            .map(|_| ())
            .map_err(|e| OpError::param(self.size_param, e.to_string()))
    }

    /// Whether the window lies inside a grid of `shape` (so it needs no padding).
    #[must_use]
    pub fn inside(&self, shape: [usize; 3]) -> bool {
        (0..3).all(|a| self.start[a] >= 0 && self.start[a] as usize + self.size[a] <= shape[a])
    }

    /// Runs the window as a node: a pending resample composes the window when it lies inside
    /// (a pure re-indexing); otherwise it is resampled first and padded here.
    pub fn run(
        &self,
        ctx: &RunContext<'_>,
        inputs: Inputs,
        fill: f64,
        fill_param: &'static str,
    ) -> Result<Value, OpError> {
        self.check_budget(1)?;
        grid::run(
            ctx,
            inputs,
            |pending| {
                Ok(if self.inside(pending.spec.shape) {
                    let m = grid::translation(self.start.map(|s| s as f64));
                    grid::compose(pending, self.size, &m, true)
                } else {
                    None
                })
            },
            |v| self.volume(v, fill, fill_param),
        )
    }
}

/// A grid op that cuts and/or pads one [`Window`] of its input (`crop`, `crop_or_pad`, `pad`):
/// its parameters, their check and its window; padded voxels hold its `value` parameter.
/// [`window_op_node!`](crate::pad::window_op_node) is its whole `Op` impl.
pub(crate) trait WindowOp {
    /// Checks the parameters other than `value` (which must be finite: [`check_window`]).
    fn check(&self) -> Result<(), OpError>;
    /// The `value` parameter: what padded voxels hold.
    fn value(&self) -> f64;
    /// The window on a grid of `shape`, or an error naming the parameter when it cannot be cut.
    fn window(&self, shape: [usize; 3]) -> Result<Window, OpError>;
    /// The output's grid shape as validation knows it, given the input's (`None`: unknown).
    fn known_shape(&self, input: Option<[usize; 3]>) -> Option<[usize; 3]>;
}

/// A window op's `validate`: [`WindowOp::check`], then `value` finite.
pub(crate) fn check_window(op: &impl WindowOp) -> Result<(), OpError> {
    op.check()?;
    if !op.value().is_finite() {
        return Err(OpError::param("value", "must be finite"));
    }
    Ok(())
}

/// A window op on a volume in memory.
pub(crate) fn apply_window(op: &impl WindowOp, volume: &Volume) -> Result<Volume, OpError> {
    check_window(op)?;
    op.window(volume.shape3())?.volume(volume, op.value(), "value")
}

/// A window op's `run`: the window on the `volume` input's current grid (in memory or pending).
pub(crate) fn run_window(op: &impl WindowOp, ctx: &RunContext<'_>, inputs: Inputs) -> Result<Value, OpError> {
    check_window(op)?;
    let Some(shape) = inputs.0.get("volume").and_then(grid::shape_of) else {
        return Err(OpError::Input { port: "volume".into(), message: "expected a volume".into() });
    };
    op.window(shape)?.run(ctx, inputs, op.value(), "value")
}

/// The body of a [`WindowOp`]'s `impl Op`:
///
/// ```text
/// #[typetag::serde(name = "pad")]
/// impl Op for Pad {
///     window_op_node!();
/// }
/// ```
macro_rules! window_op_node {
    () => {
        fn validate(&self) -> ::std::result::Result<(), ::voxflow_core::OpError> {
            $crate::pad::check_window(self)
        }

        $crate::spatial::grid_node!($crate::pad::WindowOp);

        fn run(
            &self,
            ctx: &mut ::voxflow_core::RunContext<'_>,
            inputs: ::voxflow_core::Inputs,
        ) -> ::std::result::Result<::voxflow_core::Value, ::voxflow_core::OpError> {
            $crate::pad::run_window(self, ctx, inputs)
        }
    };
}
pub(crate) use window_op_node;

impl WindowOp for Pad {
    fn check(&self) -> Result<(), OpError> {
        Ok(())
    }

    fn value(&self) -> f64 {
        self.value
    }

    fn window(&self, shape: [usize; 3]) -> Result<Window, OpError> {
        Ok(Window {
            start: self.before.map(|b| -(i64::try_from(b).unwrap_or(i64::MAX))),
            size: self.padded(shape),
            mode: self.mode,
            size_param: if self.after.iter().zip(&self.before).any(|(a, b)| a > b) {
                "after"
            } else {
                "before"
            },
        })
    }

    fn known_shape(&self, input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        input.map(|shape| self.padded(shape))
    }
}

impl Pad {
    /// The output shape for an input of `shape`: `before + shape + after` on each axis.
    fn padded(&self, shape: [usize; 3]) -> [usize; 3] {
        std::array::from_fn(|a| shape[a].saturating_add(self.before[a]).saturating_add(self.after[a]))
    }

    /// Pads a volume in memory. Voxel `(i, j, k)` of the input is voxel `(i + before_x, j +
    /// before_y, k + before_z)` of the output, at the same world position; a label map keeps its
    /// dtype (`value` must be a label it can hold).
    ///
    /// ```
    /// use nalgebra::Vector4;
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::pad::{Pad, PadMode};
    ///
    /// let labels = Volume::label3(ndarray::Array3::<u8>::from_elem((4, 4, 4), 3), Affine::identity());
    /// let out = Pad { before: [2, 1, 0], mode: PadMode::Edge, ..Default::default() }.apply(&labels)?;
    /// assert_eq!((out.shape3(), out.dtype()), ([6, 5, 4], labels.dtype()));
    /// let world = |affine: Affine, voxel: [f64; 3]| affine * Vector4::new(voxel[0], voxel[1], voxel[2], 1.0);
    /// assert_eq!(world(out.affine, [2.0, 1.0, 0.0]), world(labels.affine, [0.0; 3]));
    /// assert!(Pad { value: -1.0, ..Default::default() }.apply(&labels).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        apply_window(self, volume)
    }
}

voxflow_core::op_doc!(
    "pad",
    Pad,
    "Adds voxels before and after each axis (constant, edge or mirrored values); a grid op: the affine is updated so voxels keep their world positions.",
    r#"{"before": [2, 2, 2], "after": [2, 2, 2]}"#
);

#[typetag::serde(name = "pad")]
impl Op for Pad {
    window_op_node!();
}
