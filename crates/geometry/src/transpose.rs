//! `transpose`: permutes the voxel axes (`numpy.transpose(x, axes)` on `[x, y, z]`, frames
//! alike), and `random_transpose`, which draws a permutation of some axes (batchgenerators' /
//! nnU-Net's `TransposeAxesTransform(transpose_any_of_these)`).
//!
//! A grid op without interpolation: output axis `j` is input axis `axes[j]`; voxels are moved,
//! never recomputed, and the affine's columns are permuted alike, so every voxel keeps its world
//! position (nnU-Net's planner transposes its arrays, `transpose_forward`, and keeps the spacing
//! in step). With different lengths the shape is permuted too. As `rot90`, it is an exact index
//! map: copied in memory, composed into a pending resample.
//!
//! ```json
//! {"name": "zyx", "op": "transpose", "params": {"axes": [2, 1, 0]}}
//! {"name": "draw", "op": "random_transpose", "params": {"axes": [0, 1]}}
//! ```
//!
//! `random_transpose` shuffles the axes listed in `axes` among their own slots (uniform over
//! their permutations, the identity included, as batchgenerators' `augment_transpose_axes`
//! does with `np.random.shuffle`); the other axes stay. batchgenerators needs equal lengths along
//! the shuffled axes because it stacks a batch; here a volume is its own array, so lengths may
//! differ (the shape is then drawn: the draw's facts say so, `reshapes`, and the shape after its
//! `apply` is known when the data is read, as for `random_rot90`).

use crate::reorient::{Orientation, permute_volume, run_permutation};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::params::check_p;
use voxflow_core::random::{RandomOp, happens};
use voxflow_core::seed::Rng;
use voxflow_core::{Facts, Inputs, Kind, Op, OpError, RunContext, Value, Volume};

/// Permutes the voxel axes: output axis `j` is input axis `axes[j]` (numpy.transpose).
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::transpose::Transpose;
///
/// let data = ndarray::Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
/// let volume = Volume::image3(data, Affine::identity());
/// let zyx = Transpose { axes: [2, 1, 0] };
/// let out = zyx.apply(&volume)?;
/// assert_eq!(out.shape3(), [4, 3, 2]);
/// assert_eq!(zyx.apply(&out)?, volume); // [2, 1, 0] is its own inverse
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Transpose {
    /// A permutation of `[0, 1, 2]`: output axis `j` is input axis `axes[j]` (numpy's `axes`;
    /// `[2, 1, 0]` is numpy's default reversal). Required.
    pub axes: [usize; 3],
}

/// The identity permutation `[0, 1, 2]`: set `axes` (required in a graph).
impl Default for Transpose {
    fn default() -> Self {
        Transpose { axes: [0, 1, 2] }
    }
}

/// Checks a permutation of the three voxel axes.
fn check_permutation(param: &'static str, axes: [usize; 3]) -> Result<(), OpError> {
    let mut seen = [false; 3];
    for &a in &axes {
        if a > 2 || seen[a] {
            return Err(OpError::param(
                param,
                format!("{axes:?} is not a permutation of [0, 1, 2] (each of x, y, z once)"),
            ));
        }
        seen[a] = true;
    }
    Ok(())
}

/// The axis map of `numpy.transpose(x, axes)`: input axis `axes[j]` becomes output axis `j`.
/// `axes` must be a permutation of `[0, 1, 2]`.
#[must_use]
fn transpose_orientation(axes: [usize; 3]) -> Orientation {
    let mut o = Orientation::IDENTITY;
    for (j, &a) in axes.iter().enumerate() {
        o.axis[a.min(2)] = j;
    }
    o
}

impl Transpose {
    /// Transposes a volume in memory (every frame alike; the affine is updated). A label map keeps
    /// its dtype and labels.
    ///
    /// ```
    /// use std::collections::BTreeSet;
    /// use voxflow_core::{Affine, LabelArray, Volume};
    /// use voxflow_geometry::transpose::Transpose;
    ///
    /// let data = ndarray::Array3::from_shape_fn((2, 3, 4), |(i, j, k)| ((i + j * k) % 3) as u16);
    /// let labels = Volume::label3(data, Affine::identity());
    /// let out = Transpose { axes: [1, 2, 0] }.apply(&labels)?;
    /// let (LabelArray::U16(a), LabelArray::U16(b)) = (labels.labels()?, out.labels()?) else {
    ///     panic!("u16 labels")
    /// };
    /// assert_eq!(b[[2, 3, 1, 0]], a[[1, 2, 3, 0]]); // output axis j is input axis axes[j]
    /// assert_eq!(a.iter().collect::<BTreeSet<_>>(), b.iter().collect::<BTreeSet<_>>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        check_permutation("axes", self.axes)?;
        permute_volume(volume, transpose_orientation(self.axes))
    }
}

voxflow_core::op_doc!(
    "transpose",
    Transpose,
    "Permutes the voxel axes without interpolation (numpy.transpose: output axis j is input axis `axes[j]`); a grid op: the affine is updated so every voxel keeps its world position.",
    r#"{"axes": [2, 1, 0]}"#
);

#[typetag::serde(name = "transpose")]
impl Op for Transpose {
    fn validate(&self) -> Result<(), OpError> {
        check_permutation("axes", self.axes)
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        Ok(inputs.get("volume").and_then(|f| f.shape).map(|s| self.axes.map(|a| s[a.min(2)])))
    }

    fn run(&self, ctx: &mut RunContext<'_>, inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        run_permutation(ctx, inputs, transpose_orientation(self.axes))
    }
}

fn default_axes() -> Vec<usize> {
    vec![0, 1, 2]
}

/// Draws a [`Transpose`] that shuffles the axes of `axes` among themselves.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::seed::Rng;
/// use voxflow_geometry::transpose::RandomTranspose;
///
/// let xy = RandomTranspose { axes: vec![0, 1], ..Default::default() };
/// let drawn = xy.sample(&mut Rng::seed_from_u64(7));
/// assert!(drawn.axes == [0, 1, 2] || drawn.axes == [1, 0, 2]); // z stays
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomTranspose {
    /// The axes to shuffle (at least two; batchgenerators' `transpose_any_of_these`). Default
    /// `[0, 1, 2]`.
    #[serde(default = "default_axes")]
    pub axes: Vec<usize>,
    /// The probability of shuffling at all (else the identity). Default 1 (batchgenerators'
    /// `p_per_sample` is 1 too).
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
}

impl Default for RandomTranspose {
    fn default() -> Self {
        RandomTranspose { axes: default_axes(), p: 1.0 }
    }
}

impl RandomTranspose {
    /// Draws the permutation: the listed axes shuffled (Fisher-Yates, uniform) into their own
    /// slots, in order; the identity when `p` says skip. The same seed gives the same draw.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::{Affine, Volume, seed::Rng};
    /// use voxflow_geometry::transpose::RandomTranspose;
    ///
    /// let volume = Volume::image3(ndarray::Array3::zeros((2, 3, 4)), Affine::identity());
    /// let drawn = RandomTranspose::default().sample(&mut Rng::seed_from_u64(7));
    /// assert_eq!(drawn, RandomTranspose::default().sample(&mut Rng::seed_from_u64(7)));
    /// let mut shape = drawn.apply(&volume)?.shape3();
    /// shape.sort_unstable();
    /// assert_eq!(shape, [2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng) -> Transpose {
        let mut axes = [0, 1, 2];
        if !happens(rng, self.p) {
            return Transpose { axes };
        }
        let mut shuffled = self.axes.clone();
        for i in (1..shuffled.len()).rev() {
            let j = rng.random_range(0..=i);
            shuffled.swap(i, j);
        }
        let mut slots: Vec<usize> = self.axes.clone();
        slots.sort_unstable();
        for (slot, a) in slots.into_iter().zip(shuffled) {
            if slot < 3 {
                axes[slot] = a;
            }
        }
        Transpose { axes }
    }
}

voxflow_core::op_doc!(
    "random_transpose",
    RandomTranspose,
    "Draws a `transpose` shuffling the voxel axes listed in `axes` among themselves, with probability `p` (batchgenerators TransposeAxesTransform); apply the draw with `apply`. A grid op: the affine is updated.",
    "{}"
);

impl RandomOp for RandomTranspose {
    type Drawn = Transpose;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];
    // Which axes swap is drawn: the shape after `apply` is known once the data is read.
    const RESHAPES: bool = true;

    fn check(&self) -> Result<(), OpError> {
        if !(2..=3).contains(&self.axes.len()) {
            return Err(OpError::param(
                "axes",
                format!("{:?}: give two or three axes to shuffle", self.axes),
            ));
        }
        crate::rot90::check_distinct_axes(&self.axes)?;
        check_p(self.p)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<Transpose, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_transpose")]
impl Op for RandomTranspose {
    voxflow_core::random_op_node!(RandomTranspose);
}
