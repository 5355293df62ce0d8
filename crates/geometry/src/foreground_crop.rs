//! `random_foreground_crop`: draws a [`Crop`] that, with probability `p_foreground`, is
//! centred on a random foreground voxel of a label map (nnU-Net's `oversample_foreground_percent`
//! 0.33, MONAI's `RandCropByPosNegLabel`); otherwise its corner is uniform, as `random_crop`.
//!
//! The label map comes in on the port `like`; the drawn crop is applied to image and label alike
//! through `apply` nodes. A box centred near the edge is shifted so it fits (so it still
//! contains the chosen voxel); an axis shorter than the box is padded, centred. A label map
//! without foreground falls back to a uniform corner, without error.
//!
//! Sampling is two passes over the label map and allocates nothing per voxel: count the
//! voxels per label, draw `k`, then find the `k`-th.
//!
//! Which voxel: every foreground voxel equally likely (default); with `balanced_classes`, a
//! foreground class uniformly, then a voxel of it; with `class_ratios`, a class among the listed
//! classes present, with probability proportional to its weight, then a voxel of it (MONAI's
//! `RandCropByLabelClasses(ratios)`, which zeroes the ratio of an absent class; TorchIO's
//! `LabelSampler(label_probabilities)` before its 2026 rewrite (c236629e), which divided each
//! label's probability by its voxel count; the rewrite weights every voxel instead, so a
//! class's share grows with its size there). `p_foreground: 1` for their behaviour. The class
//! is drawn as `u · total` against the running sum of the weights in label order. Without
//! `class_ratios` the draws are those of earlier versions, byte for byte.
//!
//! ```json
//! {"name": "patch", "op": "random_foreground_crop", "params": {"size": [96, 96, 96], "p_foreground": 0.33},
//!  "inputs": {"like": "label"}}
//! {"name": "patch", "op": "random_foreground_crop",
//!  "params": {"size": [96, 96, 96], "p_foreground": 1, "class_ratios": {"0": 1, "1": 2, "2": 2}},
//!  "inputs": {"like": "label"}}
//! ```

use crate::crop::{Crop, RandomCrop, centred_start, check_size};
use crate::pad::PadMode;
use ndarray::{Array4, Zip};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::random::{LikeLabels, RandomOp};
use voxflow_core::{Kind, LabelArray, LabelType, Op, OpError, seed::Rng};

fn default_p() -> f64 {
    0.33
}

/// Draws a crop of `size`, centred on foreground with probability `p_foreground`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::{Affine, LabelArray, Volume, seed::Rng};
/// use voxflow_geometry::foreground_crop::RandomForegroundCrop;
///
/// let mut a = ndarray::Array3::<u8>::zeros((16, 16, 16));
/// a[[12, 3, 9]] = 1;
/// let labels = Volume::label3(a, Affine::identity());
/// let op = RandomForegroundCrop { size: [4, 4, 4], p_foreground: 1.0, ..Default::default() };
/// let patch = op.sample(&mut Rng::seed_from_u64(7), labels.labels()?)?.apply(&labels)?;
/// let LabelArray::U8(p) = patch.labels()? else { panic!("u8 labels") };
/// assert_eq!((patch.shape3(), p.sum()), ([4, 4, 4], 1)); // the foreground voxel is in the patch
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomForegroundCrop {
    /// The box's size in voxels `[x, y, z]` (each at least 1). Required.
    pub size: [usize; 3],
    /// The label values that count as foreground. Default: every non-zero label.
    #[serde(default)]
    pub labels: Option<Vec<i64>>,
    /// Probability of centring on a foreground voxel (else a uniform corner). Default 0.33
    /// (nnU-Net's oversampling).
    #[serde(default = "default_p")]
    pub p_foreground: f64,
    /// Pick a foreground class uniformly first, then a voxel of it (so small structures are
    /// seen as often as large ones). Default false: every foreground voxel is equally likely.
    #[serde(default)]
    pub balanced_classes: bool,
    /// Per-class weights: `{"label": weight}` (MONAI's `RandCropByLabelClasses(ratios=...)`;
    /// weights of classes, not of voxels). When given, a centred crop draws a class among the
    /// listed classes present in the label map, with probability proportional to its weight,
    /// then a uniform voxel of it; a listed class may be 0 (background). Not with `labels` or
    /// `balanced_classes`. Default: none (the draws above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_ratios: Option<BTreeMap<i64, f64>>,
}

/// A 1×1×1 patch with the graph's defaults: set `size` (required in a graph).
impl Default for RandomForegroundCrop {
    fn default() -> Self {
        RandomForegroundCrop {
            size: [1, 1, 1],
            labels: None,
            p_foreground: default_p(),
            balanced_classes: false,
            class_ratios: None,
        }
    }
}

impl RandomForegroundCrop {
    fn is_foreground(&self, label: i128) -> bool {
        if let Some(ratios) = &self.class_ratios {
            return i64::try_from(label).is_ok_and(|l| ratios.get(&l).is_some_and(|&w| w > 0.0));
        }
        match &self.labels {
            Some(list) => list.iter().any(|&l| i128::from(l) == label),
            None => label != 0,
        }
    }

    /// Draws the crop for a label map; the same seed gives the same draw. Apply it to the image
    /// and the label map alike.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::{Affine, Volume, seed::Rng};
    /// use voxflow_geometry::foreground_crop::RandomForegroundCrop;
    ///
    /// let data = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, _, _)| (i / 3) as u8);
    /// let labels = Volume::label3(data, Affine::identity());
    /// let image = Volume::image3(ndarray::Array3::zeros((8, 8, 8)), Affine::identity());
    /// let op = RandomForegroundCrop { size: [4, 4, 4], ..Default::default() };
    /// let crop = op.sample(&mut Rng::seed_from_u64(7), labels.labels()?)?;
    /// assert_eq!(crop, op.sample(&mut Rng::seed_from_u64(7), labels.labels()?)?);
    /// assert_eq!(crop.apply(&image)?.shape3(), crop.apply(&labels)?.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng, labels: &LabelArray) -> Result<Crop, OpError> {
        let [nx, ny, nz, _] = labels.shape4();
        let shape = [nx, ny, nz];
        let centre = if rng.random_bool(self.p_foreground) {
            voxflow_core::with_labels!(labels, |a: T| self.pick::<T>(rng, a))
        } else {
            None
        };
        let Some(c) = centre else {
            return Ok(self.uniform(rng, shape));
        };
        let start: [i64; 3] = std::array::from_fn(|a| {
            let (n, s) = (shape[a], self.size[a]);
            if s > n { centred_start(n, s) } else { (c[a] as i64 - (s / 2) as i64).clamp(0, (n - s) as i64) }
        });
        Ok(Crop {
            start: Some(start),
            size: self.size,
            pad: self.size.iter().zip(&shape).any(|(s, n)| s > n),
            mode: PadMode::Constant,
            value: 0.0,
        })
    }

    /// A uniform corner (an axis shorter than the box: padded, centred).
    fn uniform(&self, rng: &mut Rng, shape: [usize; 3]) -> Crop {
        let fits: [usize; 3] = std::array::from_fn(|a| self.size[a].min(shape[a]));
        let mut crop =
            RandomCrop { size: fits }.sample(rng, shape).expect("a box clamped to the volume fits");
        let start = crop.start.get_or_insert([0; 3]);
        let mut pad = false;
        for a in 0..3 {
            if self.size[a] > shape[a] {
                start[a] = centred_start(shape[a], self.size[a]);
                pad = true;
            }
        }
        crop.size = self.size;
        crop.pad = pad;
        crop
    }

    /// A random foreground voxel `[x, y, z]` (frames count alike), or `None` when there is none.
    fn pick<T: LabelType>(&self, rng: &mut Rng, a: &Array4<T>) -> Option<[usize; 3]> {
        // One pass: voxel count per foreground label (BTreeMap: ordered, so the draw is stable).
        let mut counts: BTreeMap<T, u64> = BTreeMap::new();
        let mut last: Option<(T, u64)> = None;
        // Memory order (any order counts alike); runs of one label are counted without a map
        // look-up.
        Zip::from(a).for_each(|&v| {
            if let Some((l, n)) = &mut last
                && *l == v
            {
                *n += 1;
                return;
            }
            if let Some((l, n)) = last.take() {
                *counts.entry(l).or_default() += n;
            }
            last = Some((v, 1));
        });
        if let Some((l, n)) = last {
            *counts.entry(l).or_default() += n;
        }
        counts.retain(|l, _| self.is_foreground(l.to_i128()));
        if counts.is_empty() {
            return None;
        }
        let (class, k) = if let Some(ratios) = &self.class_ratios {
            // Present classes (with a positive weight, by `retain` above), in label order.
            let weight =
                |l: &T| i64::try_from(l.to_i128()).ok().and_then(|l| ratios.get(&l)).copied().unwrap_or(0.0);
            let total: f64 = counts.keys().map(weight).sum();
            let r = rng.random::<f64>() * total;
            let mut acc = 0.0;
            let mut chosen = *counts.keys().next_back().expect("not empty");
            for l in counts.keys() {
                acc += weight(l);
                if r < acc {
                    chosen = *l;
                    break;
                }
            }
            (Some(chosen), rng.random_range(0..counts[&chosen]))
        } else if self.balanced_classes {
            let class = *counts.keys().nth(rng.random_range(0..counts.len())).expect("in range");
            (Some(class), rng.random_range(0..counts[&class]))
        } else {
            (None, rng.random_range(0..counts.values().sum::<u64>()))
        };
        // Second pass (in the array's memory order, fixed for a given layout), stopping at the k-th match.
        let mut seen = 0u64;
        let found = Zip::indexed(a).fold_while(None, |_, (x, y, z, _), &v| {
            let hit = match class {
                Some(c) => v == c,
                None => self.is_foreground(v.to_i128()),
            };
            if hit {
                if seen == k {
                    return ndarray::FoldWhile::Done(Some([x, y, z]));
                }
                seen += 1;
            }
            ndarray::FoldWhile::Continue(None)
        });
        found.into_inner()
    }
}

voxflow_core::op_doc!(
    "random_foreground_crop",
    RandomForegroundCrop,
    "Draws a `crop` of `size` voxels, centred on a foreground voxel of the label map on its `like` input with probability `p_foreground` (nnU-Net oversampling), else uniform; apply the draw with `apply`. A grid op: the affine is updated.",
    r#"{"size": [64, 64, 64]}"#
);

impl RandomOp for RandomForegroundCrop {
    type Drawn = Crop;
    type Like = LikeLabels;
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        check_size("size", self.size)?;
        voxflow_core::params::check_probability("p_foreground", self.p_foreground)?;
        if let Some(ratios) = &self.class_ratios {
            if self.labels.is_some() || self.balanced_classes {
                return Err(OpError::param(
                    "class_ratios",
                    "chooses the classes and their weights itself; leave out `labels` and `balanced_classes`",
                ));
            }
            if let Some((l, w)) = ratios.iter().find(|(_, w)| !w.is_finite() || **w < 0.0) {
                return Err(OpError::param(
                    "class_ratios",
                    format!("the weight of class {l} is {w}; weights must be finite and non-negative"),
                ));
            }
            if !ratios.values().any(|&w| w > 0.0) {
                return Err(OpError::param(
                    "class_ratios",
                    "needs at least one class with a positive weight",
                ));
            }
        }
        if self.labels.as_ref().is_some_and(Vec::is_empty) {
            return Err(OpError::param(
                "labels",
                "an empty list selects no foreground; leave it out for all non-zero labels",
            ));
        }
        Ok(())
    }

    fn draw(&self, rng: &mut Rng, like: LikeLabels) -> Result<Crop, OpError> {
        self.sample(rng, like.labels())
    }

    fn drawn_shape(&self) -> Option<[usize; 3]> {
        Some(self.size)
    }
}

#[typetag::serde(name = "random_foreground_crop")]
impl Op for RandomForegroundCrop {
    voxflow_core::random_op_node!(RandomForegroundCrop);
}
