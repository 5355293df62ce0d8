//! `random_weighted_crop`: draws a [`Crop`] whose centre is a voxel drawn with probability
//! proportional to a non-negative weight image (MONAI's `RandWeightedCrop(spatial_size,
//! weight_map)` and its `weighted_patch_samples`; TorchIO's `WeightedSampler(patch_size,
//! probability_map)`).
//!
//! The weight image comes in on the port `weights` (an image on the grid of the volumes the draw
//! is applied to); the drawn crop is applied to image and label alike through `apply` nodes.
//!
//! As MONAI: only centres whose box fits are drawn (on an axis of `n` voxels and a box of `s`,
//! centres `s / 2 ..= n - s + s / 2`), the box's first voxel is the centre minus `s / 2`, and a
//! weight map whose valid region sums to zero gives a uniform centre over that region. (MONAI's
//! "valid" slice `s // 2 : n - s + s // 2` also leaves out the last centre, whose box touches the
//! far edge, when `n > s`; here every box that fits can be drawn, as in `random_crop`.) On an axis shorter than the box, the box is padded, centred (as `random_crop`'s
//! kin `random_foreground_crop`), and the weights along that axis are summed over (MONAI keeps
//! the middle slice's only).
//!
//! Unlike MONAI, a negative, NaN or infinite weight is an error naming the port (MONAI shifts
//! negative maps by their minimum and silently samples uniformly when the sum is not finite;
//! its documentation says the weights must be non-negative). The weight image must have one
//! frame (MONAI takes its first channel; here a 4D series would be ambiguous).
//!
//! Memory: nothing per voxel. Two passes over the valid region in memory order: the total
//! (f64, summed serially, so the same bytes whatever the threads), a uniform `u · total`, then
//! the running sum up to the first voxel where it exceeds it (MONAI's `searchsorted(cumsum,
//! u · total, right=True)` without storing the cumulative sum).
//!
//! ```json
//! {"name": "patch", "op": "random_weighted_crop", "params": {"size": [96, 96, 96]},
//!  "inputs": {"weights": "weight_map"}}
//! ```

use crate::crop::{Crop, centred_start, check_size};
use crate::pad::PadMode;
use ndarray::{ArrayView3, Axis, Slice, Zip};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use voxflow_core::random::{Like, RandomOp};
use voxflow_core::seed::Rng;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, Volume};

/// Draws a crop of `size` centred on a voxel drawn in proportion to the image on `weights`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::seed::Rng;
/// use voxflow_geometry::weighted_crop::RandomWeightedCrop;
///
/// let mut weights = ndarray::Array3::<f32>::zeros((16, 16, 16));
/// weights[[10, 5, 7]] = 1.0;
/// let crop = RandomWeightedCrop { size: [4, 4, 4] }.sample(&mut Rng::seed_from_u64(7), weights.view())?;
/// // The only voxel with weight is the centre: the box starts `size / 2` before it.
/// assert_eq!(crop.start, Some([8, 3, 5]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomWeightedCrop {
    /// The box's size in voxels `[x, y, z]` (each at least 1; MONAI's `spatial_size`). Required.
    pub size: [usize; 3],
}

/// A 1×1×1 patch: set `size` (required in a graph).
impl Default for RandomWeightedCrop {
    fn default() -> Self {
        RandomWeightedCrop { size: [1, 1, 1] }
    }
}

/// The weight image on the `weights` input, in memory: plumbing between the graph runner and
/// [`RandomWeightedCrop`]'s [`RandomOp::draw`] (public because it is that trait impl's `Like`
/// type; outside a graph, call [`RandomWeightedCrop::sample`] instead).
///
/// ```
/// use rand::SeedableRng;
/// use std::{collections::BTreeMap, sync::Arc};
/// use voxflow_core::random::{Like, RandomOp};
/// use voxflow_core::{Affine, Inputs, Value, Volume, seed::Rng};
/// use voxflow_geometry::weighted_crop::{LikeWeights, RandomWeightedCrop};
///
/// let weights = Volume::image3(ndarray::Array3::from_elem((8, 8, 8), 1.0), Affine::identity());
/// let mut inputs = Inputs(BTreeMap::from([("weights".to_string(), Value::Volume(Arc::new(weights)))]));
/// let like = LikeWeights::take(&mut inputs)?;
/// let crop = RandomWeightedCrop { size: [4, 4, 4] }.draw(&mut Rng::seed_from_u64(7), like)?;
/// assert_eq!(crop.size, [4, 4, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LikeWeights(Arc<Volume>);

const WEIGHTS: &str = "weights";

impl Like for LikeWeights {
    const PORTS: &'static [Port] = &[Port { name: WEIGHTS, accepts: &[Kind::Image], required: true }];
    const ACCEPTS_DEFERRED: bool = false;

    fn take(inputs: &mut Inputs) -> Result<Self, OpError> {
        Ok(LikeWeights(inputs.volume(WEIGHTS)?))
    }
}

fn weights_error(message: impl Into<String>) -> OpError {
    OpError::Input { port: WEIGHTS.into(), message: message.into() }
}

/// The valid centres on an axis of `n` voxels for a box of `s` (every box that fits; MONAI's
/// slice ends one before): `s / 2 .. n - s + s / 2 + 1`; all of `0..n` when the box is larger.
fn valid(n: usize, s: usize) -> (usize, usize) {
    if s <= n { (s / 2, n - s + s / 2 + 1) } else { (0, n) }
}

impl RandomWeightedCrop {
    /// Draws the crop for a weight frame (`[x, y, z]`); the same seed gives the same draw. A
    /// negative, NaN or infinite weight is an error.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_geometry::weighted_crop::RandomWeightedCrop;
    ///
    /// let op = RandomWeightedCrop { size: [4, 4, 4] };
    /// let weights = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i * j + k) as f32);
    /// let crop = op.sample(&mut Rng::seed_from_u64(7), weights.view())?;
    /// assert_eq!(crop, op.sample(&mut Rng::seed_from_u64(7), weights.view())?);
    /// assert!(op.sample(&mut Rng::seed_from_u64(7), (-&weights).view()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng, weights: ArrayView3<'_, f32>) -> Result<Crop, OpError> {
        let shape = [weights.shape()[0], weights.shape()[1], weights.shape()[2]];
        let ranges: [(usize, usize); 3] = std::array::from_fn(|a| valid(shape[a], self.size[a]));
        let mut region = weights;
        for (a, &(lo, hi)) in ranges.iter().enumerate() {
            region.slice_axis_inplace(Axis(a), Slice::from(lo..hi));
        }
        // Pass 1: the total, checking every weight.
        let mut total = 0.0f64;
        let mut bad: Option<f32> = None;
        Zip::from(region).for_each(|&w| {
            if w < 0.0 || !w.is_finite() {
                bad.get_or_insert(w);
            }
            total += f64::from(w);
        });
        if let Some(w) = bad {
            return Err(weights_error(format!(
                "holds the weight {w}; weights must be finite and non-negative"
            )));
        }
        let picked = if total > 0.0 && total.is_finite() {
            // Pass 2: the first voxel where the running sum exceeds u · total.
            let target = rng.random::<f64>() * total;
            let mut acc = 0.0f64;
            let mut last_positive = None;
            let found = Zip::indexed(region).fold_while(None, |_, (x, y, z), &w| {
                if w > 0.0 {
                    acc += f64::from(w);
                    last_positive = Some([x, y, z]);
                    if acc > target {
                        return ndarray::FoldWhile::Done(Some([x, y, z]));
                    }
                }
                ndarray::FoldWhile::Continue(None)
            });
            // `u · total` may round up to `total` itself: the last positive voxel then.
            found.into_inner().or(last_positive)
        } else {
            None
        };
        // All zero: uniform over the valid region (MONAI's fallback).
        let offset =
            picked.unwrap_or_else(|| std::array::from_fn(|a| rng.random_range(0..ranges[a].1 - ranges[a].0)));
        let start: [i64; 3] = std::array::from_fn(|a| {
            let (n, s) = (shape[a], self.size[a]);
            if s > n { centred_start(n, s) } else { (ranges[a].0 + offset[a]) as i64 - (s / 2) as i64 }
        });
        Ok(Crop {
            start: Some(start),
            size: self.size,
            pad: self.size.iter().zip(&shape).any(|(s, n)| s > n),
            mode: PadMode::Constant,
            value: 0.0,
        })
    }
}

voxflow_core::op_doc!(
    "random_weighted_crop",
    RandomWeightedCrop,
    "Draws a `crop` of `size` voxels centred on a voxel drawn with probability proportional to the non-negative image on its `weights` input (MONAI RandWeightedCrop); apply the draw with `apply`. A grid op: the affine is updated.",
    r#"{"size": [64, 64, 64]}"#
);

impl RandomOp for RandomWeightedCrop {
    type Drawn = Crop;
    type Like = LikeWeights;
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        check_size("size", self.size)
    }

    fn draw(&self, rng: &mut Rng, LikeWeights(volume): LikeWeights) -> Result<Crop, OpError> {
        let image = volume.image().map_err(|e| weights_error(e.to_string()))?;
        let frames = image.shape()[3];
        if frames != 1 {
            return Err(weights_error(format!("has {frames} frames; a weight map is one 3D volume")));
        }
        if image.is_empty() {
            return Err(weights_error("is empty"));
        }
        self.sample(rng, image.index_axis(Axis(3), 0))
    }

    fn drawn_shape(&self) -> Option<[usize; 3]> {
        Some(self.size)
    }
}

#[typetag::serde(name = "random_weighted_crop")]
impl Op for RandomWeightedCrop {
    voxflow_core::random_op_node!(RandomWeightedCrop);
}
