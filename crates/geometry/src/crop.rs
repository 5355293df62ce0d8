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
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::crop::Crop;
/// # use nalgebra::{Vector3, Vector4};
///
/// let affine = Affine::new_nonuniform_scaling(&Vector3::new(0.8, 0.8, 2.0));
/// let data = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32);
/// let volume = Volume::image3(data, affine);
/// let out = Crop { start: Some([2, 3, 1]), size: [4, 4, 4], ..Default::default() }.apply(&volume)?;
/// assert_eq!(out.shape3(), [4, 4, 4]);
/// // Voxel (0, 0, 0) of the crop is where voxel `start` of the input is, in world space.
/// assert_eq!(out.affine * Vector4::new(0.0, 0.0, 0.0, 1.0), affine * Vector4::new(2.0, 3.0, 1.0, 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// ```
/// use ndarray::{Array3, s};
///
/// let a = Array3::from_shape_fn((6, 5, 4), |(i, j, k)| (100 * i + 10 * j + k) as f32);
/// let out = voxflow_geometry::crop::crop(a.view(), [1, 2, 0], [3, 2, 4]);
/// assert_eq!(out, a.slice(s![1..4, 2..4, 0..4]));
/// ```
#[must_use]
pub fn crop<T: Voxel>(input: ArrayView3<'_, T>, start: [usize; 3], size: [usize; 3]) -> Array3<T> {
    crate::pad::window(input, start.map(|s| s as i64), size, PadMode::Constant, T::default())
}

/// Checks a box size parameter: every axis at least 1 voxel.
pub(crate) fn check_size(param: &'static str, size: [usize; 3]) -> Result<(), OpError> {
    if size.contains(&0) {
        return Err(OpError::param(param, format!("every size must be at least 1, got {size:?}")));
    }
    Ok(())
}

/// The start of a box of `size` centred in an axis of `n` voxels: when the difference is odd,
/// the extra voxel is cut (or padded) before, as TorchIO's `CropOrPad`.
#[must_use]
pub(crate) fn centred_start(n: usize, size: usize) -> i64 {
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
    /// Crops a volume in memory. With `pad: true` the box may leave the volume; what lies
    /// outside is padded per `mode` and `value`.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::crop::Crop;
    ///
    /// let volume = Volume::image3(ndarray::Array3::from_elem((8, 8, 8), 1.0), Affine::identity());
    /// let out = Crop { size: [10, 8, 6], pad: true, value: -1.0, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(out.shape3(), [10, 8, 6]);
    /// // Centred: one padded slab on each side of x.
    /// let image = out.image()?;
    /// assert_eq!((image[[0, 0, 0, 0]], image[[1, 0, 0, 0]], image[[9, 0, 0, 0]]), (-1.0, 1.0, -1.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::{Affine, Volume, seed::Rng};
/// use voxflow_geometry::crop::RandomCrop;
///
/// let volume = Volume::image3(ndarray::Array3::zeros((8, 8, 8)), Affine::identity());
/// let crop = RandomCrop { size: [4, 4, 4] }.sample(&mut Rng::seed_from_u64(7), volume.shape3())?;
/// assert_eq!(crop.apply(&volume)?.shape3(), [4, 4, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    /// Draws the corner for a grid of `shape`: uniform in `0..=shape - size` on each axis. An
    /// error names `size` when the box does not fit.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_geometry::crop::RandomCrop;
    ///
    /// let op = RandomCrop { size: [4, 6, 8] };
    /// let crop = op.sample(&mut Rng::seed_from_u64(7), [8, 8, 8])?;
    /// // The same seed gives the same draw; the box fits.
    /// assert_eq!(crop, op.sample(&mut Rng::seed_from_u64(7), [8, 8, 8])?);
    /// let start = crop.start.expect("a corner is drawn");
    /// assert!((0..=4).contains(&start[0]) && (0..=2).contains(&start[1]) && start[2] == 0);
    /// assert!(op.sample(&mut Rng::seed_from_u64(7), [8, 8, 4]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
