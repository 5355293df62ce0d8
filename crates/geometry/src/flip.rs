//! `flip`: mirrors the anatomy along one or more voxel axes, and `random_flip`, which draws it.
//!
//! An augmentation, as in TorchIO: the voxels are mirrored on the same grid and the affine is
//! left unchanged, so the anatomy itself is mirrored in world space (a left hemisphere becomes a
//! right one). This is `numpy.flip(data, axis)` with the header kept.
//!
//! ```json
//! {"name": "mirrored", "op": "flip", "params": {"axis": 0}}
//! {"name": "mirrored", "op": "flip", "params": {"axis": [0, 2]}}
//! {"name": "draw", "op": "random_flip", "params": {"axes": [0, 1, 2], "p": 0.5}}
//! ```
//!
//! `random_flip` flips each axis of `axes` independently with probability `p` (TorchIO's
//! `RandomFlip`), or, with `one_axis: true`, flips one axis chosen uniformly among `axes` with
//! probability `p` (the tutorial's "one random axis", with `p: 1`). Image and label share the
//! draw through `apply` nodes (the tutorial flipped an undefined variable for its label).

use crate::grid::{self, Layout, Voxel};
use nalgebra::Matrix4;
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::check_p;
use voxflow_core::random::RandomOp;
use voxflow_core::seed::Rng;
use voxflow_core::{Inputs, Kind, Op, OpError, RunContext, Value, Volume};

/// One axis or several (in a graph: `0` or `[0, 2]`).
///
/// ```
/// use voxflow_geometry::flip::Axes;
///
/// assert_eq!(serde_json::from_str::<Axes>("[0, 2]")?, Axes::Many(vec![0, 2]));
/// assert_eq!(serde_json::from_str::<Axes>("1")?.mask(), [false, true, false]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Axes {
    /// One voxel axis: 0 (x), 1 (y) or 2 (z).
    One(usize),
    /// A list of voxel axes (empty: none).
    Many(Vec<usize>),
}

impl Axes {
    /// Which of `x, y, z` are flipped (an axis listed twice is flipped twice, i.e. not at all).
    ///
    /// ```
    /// use voxflow_geometry::flip::Axes;
    ///
    /// assert_eq!(Axes::Many(vec![2, 0]).mask(), [true, false, true]);
    /// assert_eq!(Axes::Many(vec![0, 1, 0]).mask(), [false, true, false]);
    /// ```
    #[must_use]
    pub fn mask(&self) -> [bool; 3] {
        let mut mask = [false; 3];
        let list = match self {
            Axes::One(a) => std::slice::from_ref(a),
            Axes::Many(v) => v.as_slice(),
        };
        for &a in list {
            if a < 3 {
                mask[a] = !mask[a];
            }
        }
        mask
    }

    fn check(&self, param: &'static str) -> Result<(), OpError> {
        let list = match self {
            Axes::One(a) => std::slice::from_ref(a),
            Axes::Many(v) => v.as_slice(),
        };
        match list.iter().find(|&&a| a > 2) {
            Some(a) => {
                Err(OpError::param(param, format!("axis {a} is out of range: axes are 0 (x), 1 (y), 2 (z)")))
            }
            None => Ok(()),
        }
    }
}

/// Mirrors the voxels along `axis` (0 = x, 1 = y, 2 = z, or a list); the affine is unchanged.
///
/// ```
/// use voxflow_core::{Affine, Volume};
/// use voxflow_geometry::flip::{Axes, Flip};
///
/// let data = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
/// let volume = Volume::image3(data, Affine::identity());
/// let flip = Flip { axis: Axes::Many(vec![0, 2]) };
/// let once = flip.apply(&volume)?;
/// assert_ne!(once, volume);
/// assert_eq!(once.affine, volume.affine); // an augmentation: the grid stays, the anatomy moves
/// assert_eq!(flip.apply(&once)?, volume); // flipping twice is the identity
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flip {
    /// The axis, or a list of axes (an empty list flips nothing). Also accepted as `axes`.
    #[serde(alias = "axes")]
    pub axis: Axes,
}

/// No axis flipped: set `axis` (required in a graph).
impl Default for Flip {
    fn default() -> Self {
        Flip { axis: Axes::Many(Vec::new()) }
    }
}

/// `numpy.flip(input, axis)`: a new array, in the input's memory order.
///
/// ```
/// use ndarray::{Array3, s};
///
/// let a = Array3::from_shape_fn((4, 3, 2), |(i, j, k)| (100 * i + 10 * j + k) as u16);
/// assert_eq!(voxflow_geometry::flip::flip(a.view(), 0), a.slice(s![..;-1, .., ..]));
/// ```
#[must_use]
pub fn flip<T: Voxel>(input: ArrayView3<'_, T>, axis: usize) -> Array3<T> {
    let mut mask = [false; 3];
    mask[axis.min(2)] = axis < 3;
    flip_axes(input, mask)
}

/// Flips every axis whose entry in `mask` is true, in one pass. Rows along the contiguous axis
/// are copied with `memcpy` (or reversed in place of a copy when that axis is flipped), slabs
/// in parallel.
///
/// ```
/// use ndarray::{Array3, s};
/// use voxflow_geometry::flip::flip_axes;
///
/// let a = Array3::from_shape_fn((4, 3, 2), |(i, j, k)| (100 * i + 10 * j + k) as f32);
/// assert_eq!(flip_axes(a.view(), [true, false, true]), a.slice(s![..;-1, .., ..;-1]));
/// ```
#[must_use]
pub fn flip_axes<T: Voxel>(input: ArrayView3<'_, T>, mask: [bool; 3]) -> Array3<T> {
    grid::with_c_layout(input, |src, n, layout| {
        let mask = match layout {
            Layout::C => mask,
            Layout::F => [mask[2], mask[1], mask[0]],
        };
        Array3::from_shape_vec(n, flip_c(src, n, mask)).expect("the flip's length is its shape's product")
    })
}

fn flip_c<T: Voxel>(src: &[T], n: [usize; 3], mask: [bool; 3]) -> Vec<T> {
    let mut out = vec![T::default(); src.len()];
    voxflow_core::memory::advise_huge_pages(&mut out);
    let slab_len = n[1] * n[2];
    if slab_len == 0 {
        return out;
    }
    out.par_chunks_mut(slab_len).enumerate().for_each(|(o0, slab)| {
        let i0 = if mask[0] { n[0] - 1 - o0 } else { o0 };
        let src_slab = &src[i0 * slab_len..][..slab_len];
        if !mask[1] && !mask[2] {
            slab.copy_from_slice(src_slab);
            return;
        }
        for (o1, row) in slab.chunks_exact_mut(n[2]).enumerate() {
            let i1 = if mask[1] { n[1] - 1 - o1 } else { o1 };
            let src_row = &src_slab[i1 * n[2]..][..n[2]];
            if mask[2] {
                for (d, s) in row.iter_mut().zip(src_row.iter().rev()) {
                    *d = *s;
                }
            } else {
                row.copy_from_slice(src_row);
            }
        }
    });
    out
}

/// The voxel index map of a flip on a grid of `shape`: output voxel to input voxel.
#[must_use]
fn index_matrix(mask: [bool; 3], shape: [usize; 3]) -> Matrix4<f64> {
    let mut m = Matrix4::identity();
    for a in 0..3 {
        if mask[a] {
            m[(a, a)] = -1.0;
            m[(a, 3)] = shape[a] as f64 - 1.0;
        }
    }
    m
}

struct FlipKernel([bool; 3]);

impl grid::FrameKernel for FlipKernel {
    fn frame<T: Voxel>(&self, frame: ArrayView3<'_, T>, _fill: T) -> Array3<T> {
        flip_axes(frame, self.0)
    }
}

impl Flip {
    /// Flips a volume in memory (the affine is kept). A label map keeps its dtype and values.
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::flip::{Axes, Flip, flip};
    ///
    /// let a = ndarray::Array3::from_shape_fn((4, 3, 2), |(i, j, k)| (i * j + k) as u16);
    /// let labels = Volume::label3(a.clone(), Affine::identity());
    /// let out = Flip { axis: Axes::One(0) }.apply(&labels)?;
    /// assert_eq!(out, Volume::label3(flip(a.view(), 0), Affine::identity()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        self.validate()?;
        grid::map_volume(volume, volume.affine, 0.0, "axis", &FlipKernel(self.axis.mask()))
    }
}

voxflow_core::op_doc!(
    "flip",
    Flip,
    "Mirrors the voxels along one or more voxel axes; an augmentation: the affine is kept, so the content moves in world space.",
    r#"{"axis": 0}"#
);

#[typetag::serde(name = "flip")]
impl Op for Flip {
    fn validate(&self) -> Result<(), OpError> {
        self.axis.check("axis")
    }

    fn accepts_deferred(&self) -> bool {
        true
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let mask = self.axis.mask();
        if mask == [false; 3] {
            // The identity draw: pass the value through untouched (a pending resample stays
            // pending).
            return match inputs.take("volume")? {
                Value::Draw(_) => {
                    Err(OpError::Input { port: "volume".into(), message: "expected a volume".into() })
                }
                v => Ok(v),
            };
        }
        grid::run(
            ctx,
            inputs,
            |pending| {
                Ok(grid::compose(pending, pending.spec.shape, &index_matrix(mask, pending.spec.shape), false))
            },
            |v| self.apply(v),
        )
    }
}

fn default_axes() -> Vec<usize> {
    vec![0, 1, 2]
}

fn default_p() -> f64 {
    0.5
}

/// Draws a [`Flip`]: each axis of `axes` with probability `p`, or one of them (`one_axis`).
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::seed::Rng;
/// use voxflow_geometry::flip::RandomFlip;
///
/// let always = RandomFlip { axes: vec![0, 2], p: 1.0, ..Default::default() };
/// assert_eq!(always.sample(&mut Rng::seed_from_u64(7)).axis.mask(), [true, false, true]);
/// let one = RandomFlip { p: 1.0, one_axis: true, ..Default::default() };
/// assert_eq!(one.sample(&mut Rng::seed_from_u64(7)).axis.mask().iter().filter(|&&f| f).count(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomFlip {
    /// The axes that may be flipped. Default `[0, 1, 2]`.
    #[serde(default = "default_axes")]
    pub axes: Vec<usize>,
    /// The probability of flipping (each axis, or the one chosen axis). Default 0.5.
    #[serde(default = "default_p")]
    pub p: f64,
    /// Flip at most one axis, chosen uniformly among `axes`. Default false.
    #[serde(default)]
    pub one_axis: bool,
}

impl Default for RandomFlip {
    fn default() -> Self {
        RandomFlip { axes: default_axes(), p: default_p(), one_axis: false }
    }
}

impl RandomFlip {
    /// Draws the flip (an empty axis list when nothing is flipped); the same seed gives the same
    /// draw.
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::{Affine, Volume, seed::Rng};
    /// use voxflow_geometry::flip::RandomFlip;
    ///
    /// let data = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
    /// let image = Volume::image3(data, Affine::identity());
    /// let flip = RandomFlip::default().sample(&mut Rng::seed_from_u64(7));
    /// assert_eq!(flip, RandomFlip::default().sample(&mut Rng::seed_from_u64(7)));
    /// assert_eq!(flip.apply(&image)?.shape3(), [4, 4, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut Rng) -> Flip {
        let mut axes = Vec::new();
        if self.one_axis {
            if !self.axes.is_empty() && rng.random_bool(self.p) {
                axes.push(self.axes[rng.random_range(0..self.axes.len())]);
            }
        } else {
            for &a in &self.axes {
                if rng.random_bool(self.p) {
                    axes.push(a);
                }
            }
        }
        Flip { axis: Axes::Many(axes) }
    }
}

voxflow_core::op_doc!(
    "random_flip",
    RandomFlip,
    "Draws a `flip`: each of `axes` with probability `p` (or one of them with `one_axis`); apply the draw with `apply`. An augmentation: the affine is kept.",
    "{}"
);

impl RandomOp for RandomFlip {
    type Drawn = Flip;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        Axes::Many(self.axes.clone()).check("axes")?;
        check_p(self.p)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<Flip, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_flip")]
impl Op for RandomFlip {
    voxflow_core::random_op_node!(RandomFlip);
}
