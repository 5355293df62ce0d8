//! `crop`: a box of the volume (numpy slicing), and `random_crop`, a box at a random corner.
//!
//! A grid op: the output's affine puts its voxel 0 at the world position of the box's first
//! voxel, so the anatomy stays where it is in world space. A box that does not fit is an error
//! naming the parameter, unless `pad: true`, which pads what lies outside (see [`PadMode`]).
//!
//! ```json
//! {"name": "box", "op": "crop", "params": {"start": [5, 6, 7], "size": [32, 40, 30]}}
//! {"name": "centre", "op": "crop", "params": {"size": [128, 128, 128], "pad": true}}
//! ```
//!
//! `random_crop` draws the corner uniformly among those where the box fits; an axis whose size
//! equals the box's is taken whole (offset 0; the tutorial the project grew from used the box
//! size as the offset there, which is a bug).

use crate::grid::Voxel;
use crate::pad::{PadMode, Window, WindowOp, window_op_node};
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::random::{LikeShape, RandomOp};
use voxflow_core::seed::Rng;
use voxflow_core::{Kind, Op, OpError};

/// Crops a box of `size` voxels at `start` (or centred, when `start` is left out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crop {
    /// The box's first voxel `[x, y, z]`. Left out: the box is centred (when the volume is
    /// larger by an odd number of voxels, the extra voxel is cut before, as TorchIO does).
    /// Negative values or boxes running past the end need `pad: true`.
    #[serde(default)]
    pub start: Option<[i64; 3]>,
    /// The box's size in voxels `[x, y, z]` (each at least 1). Required.
    pub size: [usize; 3],
    /// Pad where the box leaves the volume instead of failing. Default false.
    #[serde(default)]
    pub pad: bool,
    /// What padded voxels hold (with `pad: true`). Default `constant`.
    #[serde(default)]
    pub mode: PadMode,
    /// The constant for padded voxels (a label, for label maps). Default 0.
    #[serde(default)]
    pub value: f64,
}

/// A centred 1×1×1 crop with the graph's defaults: set `size` (required in a graph).
impl Default for Crop {
    fn default() -> Self {
        Crop { start: None, size: [1, 1, 1], pad: false, mode: PadMode::default(), value: 0.0 }
    }
}

/// The box of `size` voxels at `start` of a frame: `input[x0:x0+sx, y0:y0+sy, z0:z0+sz]`, copied
/// row by row, keeping the input's memory order. The box must lie inside the input.
#[must_use]
pub fn crop<T: Voxel>(input: ArrayView3<'_, T>, start: [usize; 3], size: [usize; 3]) -> Array3<T> {
    crate::pad::window(input, start.map(|s| s as i64), size, PadMode::Constant, T::default())
}

/// Checks a box size parameter: every axis at least 1 voxel.
pub fn check_size(param: &'static str, size: [usize; 3]) -> Result<(), OpError> {
    if size.contains(&0) {
        return Err(OpError::param(param, format!("every size must be at least 1, got {size:?}")));
    }
    Ok(())
}

/// The start of a box of `size` centred in an axis of `n` voxels: when the difference is odd,
/// the extra voxel is cut (or padded) before, as TorchIO's `CropOrPad`.
#[must_use]
pub fn centred_start(n: usize, size: usize) -> i64 {
    let d = n as i64 - size as i64;
    if d >= 0 { (d + 1) / 2 } else { -((-d + 1) / 2) }
}

impl WindowOp for Crop {
    fn check(&self) -> Result<(), OpError> {
        check_size("size", self.size)
    }

    fn value(&self) -> f64 {
        self.value
    }

    /// The box on a grid of `shape`, or an error naming the parameter when it does not fit (and
    /// `pad` is off).
    fn window(&self, shape: [usize; 3]) -> Result<Window, OpError> {
        let start =
            self.start.unwrap_or_else(|| std::array::from_fn(|a| centred_start(shape[a], self.size[a])));
        let window = Window { start, size: self.size, mode: self.mode, size_param: "size" };
        if !self.pad && !window.inside(shape) {
            let param =
                if self.start.is_some() && (0..3).any(|a| start[a] < 0 || start[a] as usize >= shape[a]) {
                    "start"
                } else {
                    "size"
                };
            return Err(OpError::param(
                param,
                format!(
                    "a box of {:?} at {start:?} does not fit in a volume of {shape:?} (set `pad: true` to pad)",
                    self.size
                ),
            ));
        }
        Ok(window)
    }

    fn known_shape(&self, _input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        // Cut inside the volume or padded where it leaves it: always `size`.
        Some(self.size)
    }
}

impl Crop {
    /// Crops a volume in memory.
    pub fn apply(&self, volume: &voxflow_core::Volume) -> Result<voxflow_core::Volume, OpError> {
        crate::pad::apply_window(self, volume)
    }
}

voxflow_core::op_doc!(
    "crop",
    Crop,
    "Cuts a box of `size` voxels from `start` (centred when left out), optionally padding where it leaves the volume; a grid op: the affine is updated.",
    r#"{"size": [64, 64, 64]}"#
);

#[typetag::serde(name = "crop")]
impl Op for Crop {
    window_op_node!();
}

/// Draws a [`Crop`] of `size` at a uniformly random corner where it fits in `like`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomCrop {
    /// The box's size in voxels `[x, y, z]` (each at least 1, at most the volume's). Required.
    pub size: [usize; 3],
}

/// A 1×1×1 patch: set `size` (required in a graph).
impl Default for RandomCrop {
    fn default() -> Self {
        RandomCrop { size: [1, 1, 1] }
    }
}

impl RandomCrop {
    /// Draws the corner for a grid of `shape`: uniform in `0..=shape - size` on each axis.
    pub fn sample(&self, rng: &mut Rng, shape: [usize; 3]) -> Result<Crop, OpError> {
        let mut start = [0i64; 3];
        for a in 0..3 {
            if self.size[a] > shape[a] {
                return Err(OpError::param(
                    "size",
                    format!("a box of {:?} does not fit in a volume of {shape:?}", self.size),
                ));
            }
            start[a] = rng.random_range(0..=shape[a] - self.size[a]) as i64;
        }
        Ok(Crop { start: Some(start), size: self.size, pad: false, mode: PadMode::Constant, value: 0.0 })
    }
}

voxflow_core::op_doc!(
    "random_crop",
    RandomCrop,
    "Draws a `crop` of `size` voxels at a uniformly random position inside the volume on its `like` input; apply the draw with `apply`. A grid op: the affine is updated.",
    r#"{"size": [64, 64, 64]}"#
);

impl RandomOp for RandomCrop {
    type Drawn = Crop;
    type Like = LikeShape;
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        check_size("size", self.size)
    }

    fn draw(&self, rng: &mut Rng, LikeShape(shape): LikeShape) -> Result<Crop, OpError> {
        self.sample(rng, shape)
    }

    fn drawn_shape(&self) -> Option<[usize; 3]> {
        Some(self.size)
    }
}

#[typetag::serde(name = "random_crop")]
impl Op for RandomCrop {
    voxflow_core::random_op_node!(RandomCrop);
}
