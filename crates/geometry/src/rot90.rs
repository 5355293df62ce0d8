//! `rot90`: rotates the voxels by `k` quarter turns in the plane of two voxel axes
//! (`numpy.rot90(x, k, axes)`, MONAI's `Rotate90(k, spatial_axes)`), and `random_rot90`, which
//! draws it (MONAI's `RandRotate90(prob, max_k, spatial_axes)`, batchgenerators' /
//! nnU-Net's `Rot90Transform(num_rot=(1, 2, 3), axes=(0, 1, 2))`).
//!
//! A grid op without interpolation: voxels are moved (an index permutation with flips), never
//! recomputed, and the affine is updated so every voxel keeps its world position, as MONAI's
//! `Rotate90` does for a `MetaTensor`. The grid is what turns: the anatomy stays where it is in
//! world space, and a viewer that honours the affine shows the same picture. When the two axes
//! have different lengths the shape changes (their lengths swap for odd `k`).
//!
//! numpy's direction: `k = 1` turns the first axis of `axes` towards the second; output voxel
//! `(i, j)` of the plane is input voxel `(j, n1 - 1 - i)`. `k` may be negative or above 3
//! (taken modulo 4), and `axes: [1, 0]` turns the other way, as in numpy.
//!
//! Fusion: the rotation is an exact index map. On a volume in memory it is a copy; on a pending
//! resample it is composed into the resample's voxel matrix (like `reorient` and `flip`), which
//! stays exact (entries 0 and ±1, integer offsets), so a chain still resamples once and a
//! quarter turn never adds an interpolation.
//!
//! ```json
//! {"name": "turned", "op": "rot90", "params": {"k": 1, "axes": [0, 1]}}
//! {"name": "draw", "op": "random_rot90", "params": {"k": [1, 2, 3], "axes": [0, 1, 2], "p": 0.5}}
//! ```
//!
//! `random_rot90` draws `k` uniformly from its `k` list and the plane from `axes`: with two axes
//! the plane is those two, in the given order (MONAI's `spatial_axes`; MONAI's `max_k: m` is
//! `k: [1, ..., m]`); with three, two of them are drawn without replacement and sorted
//! (batchgenerators' `augment_rot90`). Image and label share the draw through `apply` nodes.
//!
//! Facts: `rot90` states its output shape (the input's, with the plane's lengths swapped for
//! odd `k`). A `random_rot90` draw cannot: whether it swaps two lengths is drawn. Its facts say
//! so (`reshapes`), and the shape after its `apply` is known when the data is read.

use crate::reorient::{Orientation, permute_volume, run_permutation};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::params::check_p;
use voxflow_core::random::{RandomOp, happens};
use voxflow_core::seed::Rng;
use voxflow_core::{Facts, Inputs, Kind, Op, OpError, RunContext, Value, Volume};

fn one() -> i64 {
    1
}

fn plane_01() -> [usize; 2] {
    [0, 1]
}

/// Rotates by `k` quarter turns in the plane of `axes` (numpy.rot90).
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::rot90::Rot90;
///
/// let data = ndarray::Array3::from_shape_fn((4, 6, 8), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
/// let volume = Volume::image3(data, Affine::identity());
/// let turned = Rot90 { k: 1, axes: [0, 1] }.apply(&volume)?;
/// assert_eq!(turned.shape3(), [6, 4, 8]);
/// assert_eq!(Rot90 { k: 4, ..Default::default() }.apply(&volume)?, volume); // a full turn
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rot90 {
    /// The number of quarter turns, from the first axis of `axes` towards the second (any
    /// integer, taken modulo 4; 0 leaves the volume untouched). Default 1.
    #[serde(default = "one")]
    pub k: i64,
    /// The plane: two different voxel axes (0 = x, 1 = y, 2 = z). Default `[0, 1]` (numpy's and
    /// MONAI's default).
    #[serde(default = "plane_01")]
    pub axes: [usize; 2],
}

impl Default for Rot90 {
    fn default() -> Self {
        Rot90 { k: 1, axes: plane_01() }
    }
}

/// Checks a plane of two voxel axes.
fn check_plane(param: &'static str, axes: [usize; 2]) -> Result<(), OpError> {
    if axes.iter().any(|&a| a > 2) {
        return Err(OpError::param(param, format!("{axes:?}: axes are 0 (x), 1 (y), 2 (z)")));
    }
    if axes[0] == axes[1] {
        return Err(OpError::param(param, format!("{axes:?}: a plane needs two different axes")));
    }
    Ok(())
}

/// The axis map of `k` quarter turns in the plane `axes` (numpy.rot90): which output axis each
/// input axis becomes and whether it is reversed. `axes` must be two different axes below 3.
#[must_use]
fn rot90_orientation(k: i64, axes: [usize; 2]) -> Orientation {
    let [a0, a1] = axes;
    let mut o = Orientation::IDENTITY;
    match k.rem_euclid(4) {
        // out[.., i @ a0, j @ a1, ..] = in[j, n1 - 1 - i]: input a0 -> output a1; input a1 ->
        // output a0, reversed.
        1 => {
            o.axis[a0] = a1;
            o.axis[a1] = a0;
            o.flip[a1] = true;
        }
        2 => {
            o.flip[a0] = true;
            o.flip[a1] = true;
        }
        // out[i, j] = in[n0 - 1 - j, i]: input a0 -> output a1, reversed; input a1 -> output a0.
        3 => {
            o.axis[a0] = a1;
            o.axis[a1] = a0;
            o.flip[a0] = true;
        }
        _ => {}
    }
    o
}

impl Rot90 {
    fn orientation(&self) -> Orientation {
        rot90_orientation(self.k, self.axes)
    }

    /// Rotates a volume in memory (every frame alike; the affine is updated so every voxel keeps
    /// its world position).
    ///
    /// ```
    /// use nalgebra::Vector4;
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::rot90::Rot90;
    ///
    /// let data = ndarray::Array3::from_shape_fn((4, 6, 8), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
    /// let volume = Volume::image3(data, Affine::identity());
    /// let out = Rot90::default().apply(&volume)?; // k: 1 in the plane [0, 1]
    /// // Output voxel (i, j, k) is input voxel (j, 6 - 1 - i, k), at the same world position.
    /// assert_eq!(out.image()?[[1, 2, 3, 0]], volume.image()?[[2, 4, 3, 0]]);
    /// let world = |affine: Affine, voxel: [f64; 3]| affine * Vector4::new(voxel[0], voxel[1], voxel[2], 1.0);
    /// assert_eq!(world(out.affine, [1.0, 2.0, 3.0]), world(volume.affine, [2.0, 4.0, 3.0]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        check_plane("axes", self.axes)?;
        permute_volume(volume, self.orientation())
    }
}

voxflow_core::op_doc!(
    "rot90",
    Rot90,
    "Rotates the voxels by `k` quarter turns in the plane of two voxel axes without interpolation (numpy.rot90, MONAI Rotate90); a grid op: the affine is updated so every voxel keeps its world position.",
    r#"{"k": 1, "axes": [0, 1]}"#
);

#[typetag::serde(name = "rot90")]
impl Op for Rot90 {
    fn validate(&self) -> Result<(), OpError> {
        check_plane("axes", self.axes)
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        let o = self.orientation();
        Ok(inputs.get("volume").and_then(|f| f.shape).map(|s| o.shape(s)))
    }

    fn run(&self, ctx: &mut RunContext<'_>, inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        run_permutation(ctx, inputs, self.orientation())
    }
}

fn default_turns() -> Vec<i64> {
    vec![1, 2, 3]
}

fn default_axes() -> Vec<usize> {
    vec![0, 1, 2]
}

/// Draws a [`Rot90`]: `k` from the list `k`, the plane from `axes`, with probability `p`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::seed::Rng;
/// use voxflow_geometry::rot90::{RandomRot90, Rot90};
///
/// let half = RandomRot90 { k: vec![2], axes: vec![1, 2], ..Default::default() };
/// assert_eq!(half.sample(&mut Rng::seed_from_u64(7)), Rot90 { k: 2, axes: [1, 2] });
/// let never = RandomRot90 { p: 0.0, ..Default::default() };
/// assert_eq!(never.sample(&mut Rng::seed_from_u64(7)).k, 0); // the identity
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomRot90 {
    /// The numbers of quarter turns to draw from, uniformly (batchgenerators' `num_rot`; MONAI's
    /// `max_k: m` is `[1, ..., m]`). Default `[1, 2, 3]`.
    #[serde(default = "default_turns")]
    pub k: Vec<i64>,
    /// The voxel axes the plane is drawn from: two axes are the plane itself, in that order
    /// (MONAI's `spatial_axes`); three draw two of them, sorted (batchgenerators). Default
    /// `[0, 1, 2]`.
    #[serde(default = "default_axes")]
    pub axes: Vec<usize>,
    /// The probability of rotating at all (else the draw is the identity, `k: 0`). Default 1
    /// (MONAI's `prob` defaults to 0.1, batchgenerators' `p_per_sample` to 0.3).
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
}

impl Default for RandomRot90 {
    fn default() -> Self {
        RandomRot90 { k: default_turns(), axes: default_axes(), p: 1.0 }
    }
}

impl RandomRot90 {
    /// Draws the rotation (`k: 0`, the identity, when `p` says skip); the same seed gives the
    /// same draw.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::{Affine, Volume, seed::Rng};
    /// use voxflow_geometry::rot90::RandomRot90;
    ///
    /// let volume = Volume::image3(ndarray::Array3::zeros((6, 6, 6)), Affine::identity());
    /// let rot = RandomRot90::default().sample(&mut Rng::seed_from_u64(7));
    /// assert_eq!(rot, RandomRot90::default().sample(&mut Rng::seed_from_u64(7)));
    /// assert!([1, 2, 3].contains(&rot.k) && rot.axes[0] < rot.axes[1]);
    /// assert_eq!(rot.apply(&volume)?.shape3(), [6, 6, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng) -> Rot90 {
        if !happens(rng, self.p) || self.k.is_empty() || self.axes.len() < 2 {
            return Rot90 { k: 0, axes: plane_01() };
        }
        let k = self.k[rng.random_range(0..self.k.len())];
        let axes = if let [a0, a1] = self.axes[..] {
            [a0, a1]
        } else {
            let n = self.axes.len();
            let i = rng.random_range(0..n);
            let mut j = rng.random_range(0..n - 1);
            if j >= i {
                j += 1;
            }
            let (a, b) = (self.axes[i], self.axes[j]);
            [a.min(b), a.max(b)]
        };
        Rot90 { k, axes }
    }
}

voxflow_core::op_doc!(
    "random_rot90",
    RandomRot90,
    "Draws a `rot90`: `k` quarter turns from the list `k`, in a plane drawn from `axes`, with probability `p` (MONAI RandRotate90, batchgenerators Rot90Transform); apply the draw with `apply`. A grid op: the affine is updated.",
    "{}"
);

impl RandomOp for RandomRot90 {
    type Drawn = Rot90;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];
    // Which axes swap is drawn: the shape after `apply` is known once the data is read.
    const RESHAPES: bool = true;

    fn check(&self) -> Result<(), OpError> {
        if self.k.is_empty() {
            return Err(OpError::param("k", "an empty list gives nothing to draw; e.g. [1, 2, 3]"));
        }
        if !(2..=3).contains(&self.axes.len()) {
            return Err(OpError::param(
                "axes",
                format!("{:?}: give two axes (the plane) or three (a plane drawn from them)", self.axes),
            ));
        }
        check_distinct_axes(&self.axes)?;
        check_p(self.p)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<Rot90, OpError> {
        Ok(self.sample(rng))
    }
}

/// The `axes` parameter of the random axis ops: voxel axes 0..=2, each at most once.
pub(crate) fn check_distinct_axes(axes: &[usize]) -> Result<(), OpError> {
    if let Some(a) = axes.iter().find(|&&a| a > 2) {
        return Err(OpError::param(
            "axes",
            format!("axis {a} is out of range: axes are 0 (x), 1 (y), 2 (z)"),
        ));
    }
    if axes.iter().enumerate().any(|(i, a)| axes[..i].contains(a)) {
        return Err(OpError::param("axes", format!("{axes:?}: an axis is listed twice")));
    }
    Ok(())
}

#[typetag::serde(name = "random_rot90")]
impl Op for RandomRot90 {
    voxflow_core::random_op_node!(RandomRot90);
}
