//! `crop_nonzero`: crops to the bounding box of the non-zero voxels, plus a margin (nnU-Net's
//! `crop_to_nonzero`, MONAI's `CropForeground(select_fn=lambda x: x != 0, margin, allow_smaller,
//! k_divisible)`).
//!
//! A grid op: the output's affine puts its voxel 0 at the world position of the box's first
//! voxel, so the anatomy stays where it is in world space; label maps keep their dtype and values.
//!
//! Which voxels count: those `!= 0` in any frame of the box's source (nnU-Net's
//! `create_nonzero_mask`: non-zero in any channel; its hole filling does not change the box).
//! MONAI's default `select_fn` is `x > 0`, which differs for negative intensities (CT); its
//! `x != 0` is this op.
//!
//! **Where the box comes from.** By default from the volume itself. With a `like` input, the box
//! is the non-zero box of `like` and is cut from `volume`, which must be on the same grid (equal
//! shapes; the box is in voxel indices). So an image and its label map are cropped to the
//! image's box by one node in list form, each output computing the same box from the same
//! image:
//!
//! ```json
//! {"name": "crop", "op": "crop_nonzero", "params": {"margin": 2},
//!  "inputs": {"volume": ["image", "label"], "like": "image"}}
//! ```
//!
//! A port rather than a draw: the box is a function of the data, not a random choice, so
//! there is nothing to record or replay, and the node reads as what it does (one node instead of
//! a box node plus an `apply` per volume). The box is found in one pass over `like` (no mask is
//! made); `volume` may stay a pending resample, into which the crop is composed.
//!
//! **Margins and edges.** `margin` voxels are added on both sides of each axis. With
//! `allow_smaller: false` (MONAI's default since 1.5) a box that then runs past the volume's edge
//! is padded with zeros there, so the margin is always kept; with `true` it is clipped to the
//! volume. `k_divisible` then grows each size to a multiple, centred (MONAI: the extra voxels
//! split with the smaller half before), padding with zeros where it leaves the volume.
//!
//! **No non-zero voxel.** With `if_empty: "whole"` (default) the volume passes through whole, as
//! in nnU-Net (acvl_utils' `get_bbox_from_mask` starts from the full extent and keeps it when no
//! slice holds a voxel); `"error"` fails naming the port.
//! MONAI returns a zero-size image there (`generate_spatial_bounding_box` gives the box
//! `[0, 0, 0]` to `[0, 0, 0]`), which a NIfTI volume cannot usefully be.

use crate::grid::{self, Voxel};
use crate::pad::{PadMode, Window};
use ndarray::{ArrayView4, Zip};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use voxflow_core::{Facts, Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume, Voxels};

/// What to do when the box's source has no non-zero voxel.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::crop_nonzero::{CropNonzero, IfEmpty};
///
/// let empty = Volume::image3(ndarray::Array3::zeros((4, 4, 4)), Affine::identity());
/// assert_eq!(CropNonzero::default().apply(&empty, None)?, empty);
/// let strict = CropNonzero { if_empty: IfEmpty::Error, ..Default::default() };
/// assert!(strict.apply(&empty, None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum IfEmpty {
    /// Keep the whole volume (default).
    #[default]
    Whole,
    /// Fail, naming the port the box comes from.
    Error,
}

fn one() -> [usize; 3] {
    [1; 3]
}

/// Crops to the bounding box of the non-zero voxels (of `like`, or of the volume itself).
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::crop_nonzero::CropNonzero;
///
/// let mut data = ndarray::Array3::<f32>::zeros((8, 8, 8));
/// data[[2, 3, 4]] = 1.0;
/// data[[5, 3, 6]] = 2.0;
/// let volume = Volume::image3(data, Affine::identity());
/// let out = CropNonzero { margin: [1; 3], ..Default::default() }.apply(&volume, None)?;
/// // x 2..=5, y 3..=3, z 4..=6, one voxel more on each side; every non-zero voxel is kept.
/// assert_eq!(out.shape3(), [6, 3, 5]);
/// assert_eq!(out.image()?.sum(), 3.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CropNonzero {
    /// Voxels added around the box, one for all axes or one per axis `[x, y, z]`. Default 0.
    #[serde(default, deserialize_with = "voxflow_core::params::one_or_three")]
    #[schemars(with = "voxflow_core::params::OneOrThree<usize>")]
    pub margin: [usize; 3],
    /// Clip the box (with its margin) to the volume instead of padding with zeros where it runs
    /// past an edge (MONAI's `allow_smaller`). Default false.
    #[serde(default)]
    pub allow_smaller: bool,
    /// Grow each size of the box to a multiple of this, centred (MONAI's `k_divisible`), one for
    /// all axes or one per axis (each 1 to 4096). Default 1.
    #[serde(default = "one", deserialize_with = "voxflow_core::params::one_or_three")]
    #[schemars(with = "voxflow_core::params::OneOrThree<usize>")]
    pub k_divisible: [usize; 3],
    /// `whole` (default: keep the volume) or `error` when there is no non-zero voxel.
    #[serde(default)]
    pub if_empty: IfEmpty,
}

impl Default for CropNonzero {
    fn default() -> Self {
        CropNonzero { margin: [0; 3], allow_smaller: false, k_divisible: one(), if_empty: IfEmpty::Whole }
    }
}

/// The bounding box of the voxels `!= 0` in any frame: `(first, last)` voxel indices
/// (inclusive) per axis, or `None` when every voxel is zero. One pass in memory order, nothing
/// allocated.
///
/// ```
/// use ndarray::Array4;
/// use voxflow_geometry::crop_nonzero::nonzero_box;
///
/// let mut data = Array4::<u8>::zeros((8, 8, 8, 1));
/// data[[2, 3, 4, 0]] = 1;
/// data[[5, 1, 6, 0]] = 2;
/// assert_eq!(nonzero_box(data.view()), Some(([2, 1, 4], [5, 3, 6])));
/// assert_eq!(nonzero_box(Array4::<u8>::zeros((2, 2, 2, 1)).view()), None);
/// ```
#[must_use]
pub fn nonzero_box<T: Voxel + PartialEq>(data: ArrayView4<'_, T>) -> Option<([usize; 3], [usize; 3])> {
    let zero = T::default();
    let mut first = [usize::MAX; 3];
    let mut last = [0usize; 3];
    Zip::indexed(data).for_each(|(x, y, z, _), &v| {
        if v != zero {
            for (a, i) in [x, y, z].into_iter().enumerate() {
                first[a] = first[a].min(i);
                last[a] = last[a].max(i);
            }
        }
    });
    (first[0] != usize::MAX).then_some((first, last))
}

const PORTS: &[Port] =
    &[Port::VOLUME, Port { name: "like", accepts: &[Kind::Image, Kind::Label], required: false }];

impl CropNonzero {
    /// The crop window `(start, size)` for a source of `shape` whose non-zero box is
    /// `(first, last)`: margin, clipping (`allow_smaller`), then `k_divisible`. A negative start
    /// or a box running past the end is padded with zeros.
    ///
    /// ```
    /// use voxflow_geometry::crop_nonzero::CropNonzero;
    ///
    /// let op = CropNonzero { margin: [2; 3], ..Default::default() };
    /// let found = ([3, 2, 1], [5, 4, 2]);
    /// assert_eq!(op.window_of([10, 8, 6], found), ([1, 0, -1], [7, 7, 6]));
    /// let clipped = CropNonzero { allow_smaller: true, ..op };
    /// assert_eq!(clipped.window_of([10, 8, 6], found), ([1, 0, 0], [7, 7, 5]));
    /// ```
    #[must_use]
    pub fn window_of(
        &self,
        shape: [usize; 3],
        (first, last): ([usize; 3], [usize; 3]),
    ) -> ([i64; 3], [usize; 3]) {
        let mut start = [0i64; 3];
        let mut size = [0usize; 3];
        for a in 0..3 {
            let mut lo = first[a] as i64 - self.margin[a] as i64;
            let mut hi = last[a] as i64 + 1 + self.margin[a] as i64;
            if self.allow_smaller {
                lo = lo.max(0);
                hi = hi.min(shape[a] as i64);
            }
            let n = (hi - lo) as usize;
            let k = self.k_divisible[a].max(1);
            let grown = n.div_ceil(k) * k;
            start[a] = lo - ((grown - n) / 2) as i64;
            size[a] = grown;
        }
        (start, size)
    }

    /// The window on the box's source, or `None` for the whole volume (nothing non-zero and
    /// `if_empty: "whole"`).
    fn window(&self, source: &Volume, port: &'static str) -> Result<Option<Window>, OpError> {
        let found = match &source.voxels {
            Voxels::Image(a) => nonzero_box(a.view()),
            Voxels::Label(l) => voxflow_core::with_labels!(l, |a: T| nonzero_box(a.view())),
        };
        let Some(found) = found else {
            return match self.if_empty {
                IfEmpty::Whole => Ok(None),
                IfEmpty::Error => Err(OpError::Input {
                    port: port.into(),
                    message: "has no non-zero voxel, so there is no box to crop to (`if_empty: \"whole\"` keeps the volume)".into(),
                }),
            };
        };
        let (start, size) = self.window_of(source.shape3(), found);
        Ok(Some(Window { start, size, mode: PadMode::Constant, size_param: "margin" }))
    }

    /// Crops a volume in memory to the non-zero box of `like` (or of itself when `None`), which
    /// must be on the same grid.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::crop_nonzero::CropNonzero;
    ///
    /// let data = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, _, _)| (i % 4) as f32);
    /// let image = Volume::image3(data, Affine::identity());
    /// let label = Volume::label3(ndarray::Array3::<u8>::zeros((8, 8, 8)), Affine::identity());
    /// // The label map is cut to the image's box: x = 0 and x = 4 are zero, so x 1..=7.
    /// let out = CropNonzero::default().apply(&label, Some(&image))?;
    /// assert_eq!(out.shape3(), [7, 8, 8]);
    /// assert_eq!(out.dtype(), label.dtype());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume, like: Option<&Volume>) -> Result<Volume, OpError> {
        Op::validate(self)?;
        let (source, port) = match like {
            Some(l) => (l, "like"),
            None => (volume, "volume"),
        };
        check_same_grid(volume.shape3(), source.shape3())?;
        match self.window(source, port)? {
            Some(w) => w.volume(volume, 0.0, "margin"),
            None => Ok(volume.clone()),
        }
    }
}

fn check_same_grid(volume: [usize; 3], like: [usize; 3]) -> Result<(), OpError> {
    if volume != like {
        return Err(OpError::Input {
            port: "like".into(),
            message: format!(
                "its grid {like:?} differs from the volume's {volume:?}; the box is in voxel indices, so both must share one grid (use `resample_to` first)"
            ),
        });
    }
    Ok(())
}

/// A value's voxels in memory (a pending resample is performed).
fn in_memory(ctx: &RunContext<'_>, value: Value, port: &str) -> Result<Arc<Volume>, OpError> {
    match value {
        Value::Volume(v) => Ok(v),
        Value::Deferred(d) => Ok(Arc::new((ctx.materialize)(&d)?)),
        Value::Draw(_) => {
            Err(OpError::Input { port: port.into(), message: "expected a volume, got a draw".into() })
        }
    }
}

voxflow_core::op_doc!(
    "crop_nonzero",
    CropNonzero,
    "Crops to the bounding box of the non-zero voxels (of the volume, or of the volume on `like`) plus `margin` (nnU-Net crop_to_nonzero, MONAI CropForeground); a grid op: the affine is updated.",
    r#"{"margin": 2}"#
);

#[typetag::serde(name = "crop_nonzero")]
impl Op for CropNonzero {
    fn ports(&self) -> &'static [Port] {
        PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.k_divisible.iter().any(|&k| k == 0 || k > 4096) {
            return Err(OpError::param(
                "k_divisible",
                format!("each must be 1 to 4096, got {:?}", self.k_divisible),
            ));
        }
        if self.margin.iter().any(|&m| m > 1 << 20) {
            return Err(OpError::param("margin", format!("{:?} is over 2^20 voxels", self.margin)));
        }
        Ok(())
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        if let (Some(v), Some(l)) =
            (inputs.get("volume").and_then(|f| f.shape), inputs.get("like").and_then(|f| f.shape))
        {
            check_same_grid(v, l)?;
        }
        // The box depends on the voxels.
        Ok(None)
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let (source, port) = if let Some(like) = inputs.take_optional("like") {
            (in_memory(ctx, like, "like")?, "like")
        } else {
            // The box comes from the volume itself: its voxels are needed.
            let v = in_memory(ctx, inputs.take("volume")?, "volume")?;
            inputs.0.insert("volume".into(), Value::Volume(Arc::clone(&v)));
            (v, "volume")
        };
        let Some(shape) = inputs.0.get("volume").and_then(grid::shape_of) else {
            return Err(OpError::Input { port: "volume".into(), message: "expected a volume".into() });
        };
        check_same_grid(shape, source.shape3())?;
        match self.window(&source, port)? {
            Some(w) => w.run(ctx, inputs, 0.0, "margin"),
            None => inputs.take("volume"),
        }
    }
}
