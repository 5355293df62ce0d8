//! `scale`: magnifies the anatomy about the volume's physical centre on the same grid, and
//! `random_scale`, which draws it.
//!
//! An augmentation (TorchIO's scaling): a factor above 1 makes the anatomy larger, below 1
//! smaller; the grid and affine are kept. The factor applies along each voxel axis in
//! millimetres about the physical centre (the tutorial's `affine_transform(img, diag(z, z, z))`
//! scaled about voxel (0, 0, 0) and dragged the anatomy into a corner). On an axis-aligned volume
//! `scale` with factor `s` equals `scipy.ndimage.affine_transform(x, diag(1/s), offset=c - c/s)`
//! with `c` the array centre.
//!
//! ```json
//! {"name": "bigger", "op": "scale", "params": {"factor": 1.1, "interpolation": "cubic"}}
//! {"name": "draw", "op": "random_scale", "params": {"range": [0.7, 1.2], "p": 0.8}}
//! ```

use crate::GeometryError;
use crate::spatial::{self, Resampling, SpatialOp, Step, spatial_op_node};
use nalgebra::{Matrix3, Vector3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::check_range;
use voxflow_core::random::{RandomOp, uniform};
use voxflow_core::seed::Rng;
use voxflow_core::{Affine, Kind, Op, OpError};

/// One factor for every axis, or one per axis (also `resize`'s factor, and intensity's
/// low-resolution simulation's).
pub type Factor = voxflow_core::params::OneOrThree<f64>;

/// Checks that every factor is finite and positive.
pub(crate) fn check_factor(factor: Factor, param: &'static str) -> Result<(), GeometryError> {
    match factor.per_axis().iter().find(|f| !f.is_finite() || **f <= 0.0) {
        Some(f) => Err(GeometryError::param(param, format!("factors must be positive, got {f}"))),
        None => Ok(()),
    }
}

/// Magnifies the anatomy by `factor` about the physical centre; the grid is kept.
///
/// ```
/// use voxflow_geometry::{scale::{Factor, Scale}, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((9, 9, 9), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let bigger = Scale { factor: Factor::Isotropic(2.0), ..Default::default() }.apply(&volume)?;
/// assert_eq!((bigger.shape3(), bigger.affine), (volume.shape3(), volume.affine));
/// // The centre stays put; the voxel 2 from it comes from the voxel 1 from it.
/// assert_eq!(bigger.image()?[[6, 4, 4, 0]], volume.image()?[[5, 4, 4, 0]]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    /// The magnification, one number or `[x, y, z]` (> 0; 1 = unchanged).
    pub factor: Factor,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// No magnification (factor 1), with the default resampling.
impl Default for Scale {
    fn default() -> Self {
        Scale { factor: Factor::Isotropic(1.0), resampling: Resampling::default() }
    }
}

impl SpatialOp for Scale {
    /// The scale's effect on a grid.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let [x, y, z] = self.factor.per_axis();
        spatial::augmentation(
            shape,
            affine,
            &Matrix3::from_diagonal(&Vector3::new(x, y, z)),
            Vector3::zeros(),
        )
    }

    fn check(&self) -> Result<(), GeometryError> {
        check_factor(self.factor, "factor")?;
        self.resampling.validate()
    }

    fn settings(&self) -> Resampling {
        self.resampling
    }
}

voxflow_core::op_doc!(
    "scale",
    Scale,
    "Zooms the content about the volume's centre by `factor` (one number or per axis) on the same grid; an augmentation: the affine is kept.",
    r#"{"factor": 1.1}"#
);

#[typetag::serde(name = "scale")]
impl Op for Scale {
    spatial_op_node!();
}

fn default_range() -> [f64; 2] {
    [0.7, 1.2]
}

fn default_true() -> bool {
    true
}

/// Draws a [`Scale`]: a factor uniform in `range` (one for all axes, or one per axis).
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::random::RandomOp;
/// use voxflow_geometry::scale::{Factor, RandomScale};
/// let op = RandomScale { range: [0.9, 1.1], isotropic: false, ..Default::default() };
/// let scale = op.draw(&mut voxflow_core::seed::Rng::seed_from_u64(1), ())?;
/// let Factor::PerAxis(factors) = scale.factor else { panic!("one factor per axis") };
/// assert!(factors.iter().all(|f| (0.9..=1.1).contains(f)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomScale {
    /// `[min, max]` of the factor (> 0). Default `[0.7, 1.2]` (the tutorial's).
    #[serde(default = "default_range")]
    pub range: [f64; 2],
    /// One factor for all axes (default) or an independent one per axis.
    #[serde(default = "default_true")]
    pub isotropic: bool,
    /// The probability of scaling at all. Default 1.
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// The graph's defaults.
impl Default for RandomScale {
    fn default() -> Self {
        RandomScale {
            range: default_range(),
            isotropic: default_true(),
            p: voxflow_core::params::default_p(),
            resampling: Resampling::default(),
        }
    }
}

impl RandomScale {
    /// Draws the scale (factor 1 when the probability says skip).
    pub(crate) fn sample(&self, rng: &mut impl rand::Rng) -> Scale {
        let apply = rng.random_range(0.0..1.0) < self.p;
        let mut draw = || uniform(rng, self.range);
        let factor = if !apply {
            Factor::Isotropic(1.0)
        } else if self.isotropic {
            Factor::Isotropic(draw())
        } else {
            Factor::PerAxis([draw(), draw(), draw()])
        };
        Scale { factor, resampling: self.resampling }
    }
}

voxflow_core::op_doc!(
    "random_scale",
    RandomScale,
    "Draws a `scale` with a factor uniform in `range` (isotropic or per axis), with probability `p`; apply the draw with `apply`. An augmentation: the affine is kept.",
    "{}"
);

impl RandomOp for RandomScale {
    type Drawn = Scale;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        check_range("range", self.range)?;
        if self.range[0] <= 0.0 {
            return Err(OpError::param("range", format!("factors must be positive, got {}", self.range[0])));
        }
        spatial::check_augmentation(self.p, &self.resampling)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<Scale, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_scale")]
impl Op for RandomScale {
    voxflow_core::random_op_node!(RandomScale);
}
