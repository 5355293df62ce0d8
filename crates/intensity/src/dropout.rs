//! `dropout` / `random_dropout`: coarse dropout (cut-out), boxes of voxels set to a fill value.
//!
//! ```json
//! {"name": "d", "op": "random_dropout", "params": {"holes": 2, "max_holes": 6, "size": [8, 8, 8], "max_size": [24, 24, 24], "p": 0.2}, "inputs": {"like": "image"}},
//! {"name": "image_d", "op": "apply", "inputs": {"volume": "image", "draw": "d"}}
//! ```
//!
//! The definition is MONAI's `RandCoarseDropout(holes, spatial_size, dropout_holes=True,
//! fill_value, max_holes, max_spatial_size)` (`monai/transforms/intensity/array.py`,
//! `RandCoarseTransform.randomize` and `RandCoarseDropout._transform_holes`; DeVries & Taylor's
//! cut-out, arXiv:1708.04552): `img[box] = fill` for every box, or with `dropout_holes: false`
//! the boxes are kept and everything else is set to `fill`. Every frame gets the same boxes
//! (MONAI's boxes span every channel).
//!
//! `dropout` holds the boxes (`start` and `size` in voxels `[x, y, z]`); a box reaching past
//! the grid is cut at its edge (numpy's slicing), so a draw applies to any grid. `fill` is a
//! number or the frame's `"min"`, `"mean"` or `"max"` (over its finite voxels, before the
//! boxes are filled). MONAI's default `fill_value=None`, a uniform random value per voxel
//! between the image's min and max, is not offered.
//!
//! `random_dropout` draws as `RandCoarseTransform.randomize` does: the number of boxes
//! uniform in `holes..=max_holes` (`holes` when `max_holes` is not given); each box's size
//! uniform in `size..=max_size` per axis (`size` when `max_size` is not given; 0 in either
//! means the whole axis, MONAI's non-positive sizes), cut to the grid's shape
//! (`get_valid_patch_size`); its start uniform in `0..=shape - size` per axis
//! (`get_random_patch`). The number of boxes is at most [`MAX_BOXES`].

use crate::frame::{fortran_slice, shape3};
use crate::moments::moments;
use crate::node::{IMAGE_PORTS, map_image, take_image};
use crate::region::FlatRegion;
use ndarray::{Array3, ArrayView3, ShapeBuilder, s};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, default_p};
use voxflow_core::random::{LikeShape, happens};
use voxflow_core::seed::Rng;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// The most boxes a `dropout` holds or a `random_dropout` draws (each is a line of the
/// manifest's draw; MONAI's uses are a few to a few tens).
pub const MAX_BOXES: usize = 1000;

/// One box: its first voxel and its size, in voxels `[x, y, z]`.
///
/// ```
/// use voxflow_intensity::dropout::{Dropout, DropoutBox};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let corner = DropoutBox { start: [6, 6, 6], size: [4, 4, 4] }; // cut to [6, 8) on each axis
/// let image = Dropout { boxes: vec![corner], ..Default::default() }.apply(&volume)?;
/// assert_eq!(image.image()?.iter().filter(|&&v| v == 0.0).count(), 1 + 8);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DropoutBox {
    /// The box's first voxel `[x, y, z]`.
    pub start: [usize; 3],
    /// The box's size in voxels `[x, y, z]`, each at least 1.
    pub size: [usize; 3],
}

/// A statistic of the frame to fill with.
///
/// ```
/// use voxflow_intensity::dropout::{Dropout, DropoutBox, DropoutFill, FillStat};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let boxes = vec![DropoutBox { start: [0, 0, 0], size: [2, 2, 2] }];
/// let image = Dropout { boxes, fill: DropoutFill::Stat(FillStat::Max), ..Default::default() }.apply(&volume)?;
/// assert_eq!(image.image()?[[0, 0, 0, 0]], 21.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FillStat {
    /// The frame's minimum.
    Min,
    /// The frame's mean.
    Mean,
    /// The frame's maximum.
    Max,
}

/// The value dropped voxels are set to: a number, or a statistic of the frame.
///
/// ```
/// use voxflow_intensity::dropout::{Dropout, DropoutBox, DropoutFill};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let boxes = vec![DropoutBox { start: [2, 2, 2], size: [2, 2, 2] }];
/// let image = Dropout { boxes, fill: DropoutFill::Value(-1.0), ..Default::default() }.apply(&volume)?;
/// assert_eq!(image.image()?[[3, 3, 3, 0]], -1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum DropoutFill {
    /// This value (finite).
    Value(f64),
    /// `"min"`, `"mean"` or `"max"` of the frame's finite voxels.
    Stat(FillStat),
}

/// Fill with 0, the graph's default.
impl Default for DropoutFill {
    fn default() -> Self {
        DropoutFill::Value(0.0)
    }
}

/// Parameters of `dropout` (also what `random_dropout` draws).
///
/// ```
/// use voxflow_intensity::dropout::{Dropout, DropoutBox};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let keep = vec![DropoutBox { start: [0, 0, 0], size: [4, 8, 8] }]; // keep the half x < 4
/// let half = Dropout { boxes: keep, dropout_holes: false, ..Default::default() }.apply(&volume)?;
/// assert_eq!((half.image()?[[3, 7, 7, 0]], half.image()?[[4, 0, 0, 0]]), (17.0, 0.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dropout {
    /// The boxes (at most [`MAX_BOXES`]); may overlap. Required (may be empty: no change).
    pub boxes: Vec<DropoutBox>,
    /// What dropped voxels become: a number, `"min"`, `"mean"` or `"max"`. Default 0.
    #[serde(default)]
    pub fill: DropoutFill,
    /// true: fill the boxes; false: keep the boxes and fill everything else (MONAI's
    /// `dropout_holes`). Default true.
    #[serde(default = "yes")]
    pub dropout_holes: bool,
}

/// No box (the identity), fill 0, boxes filled: set `boxes`.
impl Default for Dropout {
    fn default() -> Self {
        Dropout { boxes: Vec::new(), fill: DropoutFill::default(), dropout_holes: yes() }
    }
}

impl Dropout {
    /// Fills the boxes of an image (or all but them): the `dropout` node on `volume`, in one
    /// call.
    ///
    /// ```
    /// use voxflow_intensity::dropout::{Dropout, DropoutBox};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(Dropout::default().apply(&volume)?.image()?, volume.image()?);
    /// let boxes = vec![DropoutBox { start: [1, 1, 1], size: [2, 3, 4] }];
    /// let holed = Dropout { boxes, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(holed.image()?.iter().filter(|&&v| v == 0.0).count(), 1 + 2 * 3 * 4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_dropout`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::dropout::RandomDropout;
/// let random = RandomDropout { holes: 2, max_holes: Some(4), size: [2, 2, 2], ..Default::default() };
/// let drawn = random.sample(&mut voxflow_core::seed::Rng::seed_from_u64(7), [8, 8, 8])?;
/// assert!((2..=4).contains(&drawn.boxes.len()));
/// assert!(drawn.boxes.iter().all(|b| b.size == [2, 2, 2] && b.start.iter().all(|&s| s <= 6)));
/// # Ok::<(), voxflow_core::OpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomDropout {
    /// Number of boxes (MONAI's `holes`), or the least number when `max_holes` is given;
    /// at least 1. Default 1.
    #[serde(default = "one")]
    pub holes: usize,
    /// The most boxes (MONAI's `max_holes`), `holes..=MAX_BOXES`; default: exactly `holes`.
    #[serde(default)]
    pub max_holes: Option<usize>,
    /// Size of a box in voxels `[x, y, z]` (MONAI's `spatial_size`), or its least size when
    /// `max_size` is given; 0 = the whole axis. Required.
    pub size: [usize; 3],
    /// The largest size of a box (MONAI's `max_spatial_size`), at least `size`; 0 = the whole
    /// axis. Default: exactly `size`.
    #[serde(default)]
    pub max_size: Option<[usize; 3]>,
    /// See [`Dropout::fill`]. Default 0.
    #[serde(default)]
    pub fill: DropoutFill,
    /// See [`Dropout::dropout_holes`]. Default true.
    #[serde(default = "yes")]
    pub dropout_holes: bool,
    /// Probability of dropping out; otherwise no box. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults (one box of exactly `size`, fill 0, always applied), with one-voxel
/// boxes for the required `size`: set it.
impl Default for RandomDropout {
    fn default() -> Self {
        RandomDropout {
            holes: one(),
            max_holes: None,
            size: [1; 3],
            max_size: None,
            fill: DropoutFill::default(),
            dropout_holes: yes(),
            p: default_p(),
        }
    }
}

fn yes() -> bool {
    true
}
fn one() -> usize {
    1
}

/// The box's voxel ranges cut to a grid of `shape` (empty when it lies outside).
fn clipped(b: &DropoutBox, shape: [usize; 3]) -> [std::ops::Range<usize>; 3] {
    std::array::from_fn(|a| {
        let lo = b.start[a].min(shape[a]);
        lo..b.start[a].saturating_add(b.size[a]).min(shape[a])
    })
}

/// `input` with every box set to `fill` (or, with `dropout_holes` false, everything but the
/// boxes); boxes are cut to the grid. The output is in Fortran order.
///
/// ```
/// use voxflow_intensity::dropout::{DropoutBox, dropout};
/// let frame = ndarray::Array3::from_elem((4, 4, 4), 1.0f32);
/// let boxes = [DropoutBox { start: [0, 0, 0], size: [1, 4, 4] }];
/// let out = dropout(frame.view(), &boxes, 5.0, true);
/// assert_eq!((out.sum(), out[[0, 3, 3]], out[[1, 0, 0]]), (16.0 * 5.0 + 48.0, 5.0, 1.0));
/// ```
#[must_use]
pub fn dropout(
    input: ArrayView3<'_, f32>,
    boxes: &[DropoutBox],
    fill: f32,
    dropout_holes: bool,
) -> Array3<f32> {
    let shape = shape3(&input);
    let mut out = if dropout_holes {
        let mut out = voxflow_core::memory::new_array::<f32>(shape);
        out.assign(&input);
        out
    } else {
        Array3::from_elem(shape.f(), fill)
    };
    for b in boxes {
        let [x, y, z] = clipped(b, shape);
        let mut window = out.slice_mut(s![x.clone(), y.clone(), z.clone()]);
        if dropout_holes {
            window.fill(fill);
        } else {
            window.assign(&input.slice(s![x, y, z]));
        }
    }
    out
}

/// The fill value of a frame (`None` for a statistic of a frame without a finite voxel).
fn fill_value(fill: DropoutFill, frame: ArrayView3<'_, f32>) -> Option<f32> {
    match fill {
        DropoutFill::Value(v) => Some(v as f32),
        DropoutFill::Stat(stat) => {
            let m = moments(&fortran_slice(frame), &FlatRegion::All, stat != FillStat::Mean);
            let value = match stat {
                FillStat::Min => m.min,
                FillStat::Mean => m.mean,
                FillStat::Max => m.max,
            };
            (m.n > 0).then_some(value as f32)
        }
    }
}

fn check_fill(fill: DropoutFill) -> Result<(), OpError> {
    match fill {
        DropoutFill::Value(v) if !v.is_finite() => {
            Err(OpError::param("fill", format!("must be finite, \"min\", \"mean\" or \"max\", got {v}")))
        }
        _ => Ok(()),
    }
}

voxflow_core::op_doc!(
    "dropout",
    Dropout,
    "Coarse dropout (cut-out): sets the voxels of each box (`start`, `size` in voxels) to `fill` (a number, \"min\", \"mean\" or \"max\"), or everything but the boxes with `dropout_holes: false`; intensity only.",
    r#"{"boxes": [{"start": [10, 10, 10], "size": [8, 8, 8]}], "fill": 0}"#
);

#[typetag::serde(name = "dropout")]
impl Op for Dropout {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if self.boxes.len() > MAX_BOXES {
            return Err(OpError::param(
                "boxes",
                format!("at most {MAX_BOXES} boxes, got {}", self.boxes.len()),
            ));
        }
        if let Some((i, b)) = self.boxes.iter().enumerate().find(|(_, b)| b.size.contains(&0)) {
            return Err(OpError::param(
                "boxes",
                format!("box {i}: every size must be at least 1, got {:?}", b.size),
            ));
        }
        check_fill(self.fill)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        if self.boxes.is_empty() && self.dropout_holes {
            return Ok(Value::Volume(volume));
        }
        map_image(&volume, |_, frame| {
            Ok(match fill_value(self.fill, frame) {
                Some(fill) => dropout(frame, &self.boxes, fill, self.dropout_holes),
                // No finite voxel to take a statistic of: nothing to fill with.
                None => frame.to_owned(),
            })
        })
    }
}

/// `size` with 0 meaning the whole axis (MONAI's `fall_back_tuple`).
fn fall_back(size: [usize; 3], shape: [usize; 3]) -> [usize; 3] {
    std::array::from_fn(|a| if size[a] == 0 { shape[a] } else { size[a] })
}

impl RandomDropout {
    /// Draws the boxes for a grid of `shape` (see the module); apply them with
    /// [`Dropout::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::dropout::RandomDropout;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomDropout { size: [3, 3, 3], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3), volume.shape3())?;
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3), volume.shape3())?);
    /// let holed = drawn.apply(&volume)?;
    /// assert!(holed.image()?.iter().filter(|&&v| v == 0.0).count() >= 27);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng, shape: [usize; 3]) -> Result<Dropout, OpError> {
        let skipped = Dropout { boxes: Vec::new(), fill: self.fill, dropout_holes: true };
        if !happens(rng, self.p) || shape.contains(&0) {
            return Ok(skipped);
        }
        let least = fall_back(self.size, shape);
        let most = self.max_size.map(|m| fall_back(m, shape));
        if let Some(most) = most
            && let Some(a) = (0..3).find(|&a| most[a] < least[a])
        {
            return Err(OpError::param(
                "max_size",
                format!(
                    "must be at least `size` on every axis (0 = the whole axis of {shape:?}): {most:?} < {least:?} along axis {a}"
                ),
            ));
        }
        let count = match self.max_holes {
            Some(max) => rng.random_range(self.holes..=max),
            None => self.holes,
        };
        let boxes = (0..count)
            .map(|_| {
                let size: [usize; 3] = match most {
                    Some(most) => std::array::from_fn(|a| rng.random_range(least[a]..=most[a])),
                    None => least,
                };
                let size = std::array::from_fn(|a| size[a].min(shape[a]));
                let start = std::array::from_fn(|a| rng.random_range(0..=shape[a] - size[a]));
                DropoutBox { start, size }
            })
            .collect();
        Ok(Dropout { boxes, fill: self.fill, dropout_holes: self.dropout_holes })
    }
}

voxflow_core::op_doc!(
    "random_dropout",
    RandomDropout,
    "Draws a `dropout` of `holes` to `max_holes` boxes of `size` to `max_size` voxels at random positions inside the volume on its `like` input (MONAI's RandCoarseDropout), with probability `p`; apply the draw with `apply` to images.",
    r#"{"holes": 2, "max_holes": 6, "size": [8, 8, 8], "max_size": [24, 24, 24]}"#
);

impl voxflow_core::random::RandomOp for RandomDropout {
    type Drawn = Dropout;
    type Like = LikeShape;
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        if !(1..=MAX_BOXES).contains(&self.holes) {
            return Err(OpError::param("holes", format!("must be in 1..={MAX_BOXES}, got {}", self.holes)));
        }
        if let Some(max) = self.max_holes
            && !(self.holes..=MAX_BOXES).contains(&max)
        {
            return Err(OpError::param(
                "max_holes",
                format!("must be in holes..={MAX_BOXES} ({}..={MAX_BOXES}), got {max}", self.holes),
            ));
        }
        // Where both sizes are given (0, the whole axis, is known only when drawing).
        if let Some(max) = self.max_size
            && let Some(a) = (0..3).find(|&a| max[a] != 0 && self.size[a] != 0 && max[a] < self.size[a])
        {
            return Err(OpError::param(
                "max_size",
                format!("must be at least `size` on every axis: {max:?} < {:?} along axis {a}", self.size),
            ));
        }
        check_fill(self.fill)
    }

    fn draw(&self, rng: &mut Rng, LikeShape(shape): LikeShape) -> Result<Dropout, OpError> {
        self.sample(rng, shape)
    }
}

#[typetag::serde(name = "random_dropout")]
impl Op for RandomDropout {
    voxflow_core::random_op_node!(RandomDropout);
}
