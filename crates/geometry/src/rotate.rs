//! `rotate`: rotates the anatomy in the plane of two voxel axes about the volume's physical
//! centre, `random_rotate`, which draws it, and [`rotate`], scipy's voxel-space function.
//!
//! The angle is in degrees with scipy.ndimage.rotate's sign convention, applied in millimetres
//! along the voxel axes (a rigid rotation in world space even when the voxels are anisotropic),
//! about the physical centre. With `reshape: false` (default; equal shapes batch) the grid and
//! affine are kept; with `reshape: true` the grid grows to hold the whole rotated volume (as
//! scipy's default) and its affine is moved so the centre stays in place. On an isotropic
//! axis-aligned volume `rotate` equals `scipy.ndimage.rotate(x, angle, axes, reshape=...)`.
//!
//! ```json
//! {"name": "turned", "op": "rotate", "params": {"axes": [0, 1], "angle": 15, "interpolation": "cubic"}}
//! {"name": "draw", "op": "random_rotate", "params": {"degrees": [-20, 20], "planes": [[1, 0], [1, 2], [0, 2]]}}
//! {"name": "draw", "op": "random_rotate", "params": {"per_axis": [[-10, 10], [-10, 10], [-30, 30]], "p": 0.75}}
//! ```
//!
//! `random_rotate` draws, with probability `p`, either one plane from `planes` and an angle in
//! `degrees` (the tutorial; `integer: true` draws whole degrees as it did), or, with `per_axis`,
//! three angles for the planes (1, 2), (0, 2) and (0, 1) (rotations about x, y and z), composed
//! into one [`AffineTransform`] in the voxel frame.

use crate::GeometryError;
use crate::affine::{AffineTransform, Frame};
use crate::resample::transform_image;
use crate::spatial::{self, Resampling, SpatialOp, Step, spatial_op_node};
use nalgebra::{Matrix3, Matrix4};
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::check_range;
use voxflow_core::random::{OneOf, RandomOp, uniform};
use voxflow_core::seed::Rng;
use voxflow_core::{Affine, BoundaryMode, Kind, Op, OpError};

/// Cosine and sine of an angle in degrees, exact at multiples of 90 (scipy's `cosdg`/`sindg`).
#[must_use]
pub(crate) fn cos_sin_deg(angle: f64) -> (f64, f64) {
    let a = angle.rem_euclid(360.0);
    if a == 0.0 {
        (1.0, 0.0)
    } else if a == 90.0 {
        (0.0, 1.0)
    } else if a == 180.0 {
        (-1.0, 0.0)
    } else if a == 270.0 {
        (0.0, -1.0)
    } else {
        let r = angle.to_radians();
        (r.cos(), r.sin())
    }
}

/// Checks and sorts a plane (scipy sorts `axes`).
pub(crate) fn plane(axes: [usize; 2], param: &'static str) -> Result<[usize; 2], GeometryError> {
    if axes[0] > 2 || axes[1] > 2 {
        return Err(GeometryError::param(param, format!("{axes:?}: axes are 0 (x), 1 (y), 2 (z)")));
    }
    if axes[0] == axes[1] {
        return Err(GeometryError::param(param, format!("{axes:?}: the two axes must differ")));
    }
    Ok([axes[0].min(axes[1]), axes[0].max(axes[1])])
}

/// The forward rotation (anatomy motion) by `angle` degrees in the plane `p` (sorted).
fn forward(angle: f64, p: [usize; 2]) -> Matrix3<f64> {
    let (c, s) = cos_sin_deg(angle);
    let mut m = Matrix3::identity();
    m[(p[0], p[0])] = c;
    m[(p[0], p[1])] = -s;
    m[(p[1], p[0])] = s;
    m[(p[1], p[1])] = c;
    m
}

/// The in-plane output size of a reshaping rotation: scipy's `(ptp(R · corners) + 0.5)`, with
/// the corners in millimetres (`extent`, per plane axis) and the result in voxels of `spacing`.
fn reshaped(angle: f64, extent: [f64; 2], spacing: [f64; 2]) -> [usize; 2] {
    let (c, s) = cos_sin_deg(angle);
    let corners = [[0.0, 0.0], [0.0, extent[1]], [extent[0], 0.0], [extent[0], extent[1]]];
    std::array::from_fn(|k| {
        let v = corners.map(|p| if k == 0 { c * p[0] + s * p[1] } else { -s * p[0] + c * p[1] });
        let ptp = v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
            - v.iter().copied().fold(f64::INFINITY, f64::min);
        ((ptp / spacing[k] + 0.5).floor() as usize).max(1)
    })
}

/// `scipy.ndimage.rotate(input, angle, axes=axes, reshape=reshape, order=order, mode=mode,
/// cval=cval)`.
///
/// ```
/// use voxflow_core::BoundaryMode;
/// use voxflow_geometry::rotate::rotate;
/// let input = ndarray::Array3::from_shape_fn((4, 6, 2), |(i, j, k)| (i + 10 * j + 100 * k) as f32);
/// // A quarter turn with `reshape` swaps the plane's axes and moves no value (numpy's rot90).
/// let turned = rotate(input.view(), 90.0, [0, 1], true, 1, BoundaryMode::Constant, 0.0)?;
/// assert_eq!(turned.shape(), [6, 4, 2]);
/// assert_eq!(turned[[1, 3, 0]], input[[3, 4, 0]]); // out[i, j] = in[j, 5 - i]
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rotate(
    input: ArrayView3<f32>,
    angle: f64,
    axes: [usize; 2],
    reshape: bool,
    order: u8,
    mode: BoundaryMode,
    cval: f64,
) -> Result<Array3<f32>, GeometryError> {
    let order = spatial::scipy_order(order)?;
    let p = plane(axes, "axes")?;
    if !angle.is_finite() {
        return Err(GeometryError::param("angle", "must be finite"));
    }
    let s = input.shape();
    let shape = [s[0], s[1], s[2]];
    let in_plane = [shape[p[0]] as f64, shape[p[1]] as f64];
    let out_plane = if reshape { reshaped(angle, in_plane, [1.0, 1.0]) } else { [shape[p[0]], shape[p[1]]] };
    let (c, sn) = cos_sin_deg(angle);
    let out_centre = [(out_plane[0] as f64 - 1.0) / 2.0, (out_plane[1] as f64 - 1.0) / 2.0];
    let in_centre = [(in_plane[0] - 1.0) / 2.0, (in_plane[1] - 1.0) / 2.0];
    let mut m = Matrix4::identity();
    m[(p[0], p[0])] = c;
    m[(p[0], p[1])] = sn;
    m[(p[1], p[0])] = -sn;
    m[(p[1], p[1])] = c;
    m[(p[0], 3)] = in_centre[0] - (c * out_centre[0] + sn * out_centre[1]);
    m[(p[1], 3)] = in_centre[1] - (-sn * out_centre[0] + c * out_centre[1]);
    let mut out_shape = shape;
    out_shape[p[0]] = out_plane[0];
    out_shape[p[1]] = out_plane[1];
    Ok(transform_image(input, &m, None, out_shape, order, mode, cval))
}

/// Rotates the anatomy by `angle` degrees in the plane of voxel axes `axes` about the centre.
///
/// ```
/// use std::collections::BTreeSet;
/// use voxflow_core::{Affine, DType, Volume};
/// use voxflow_geometry::{rotate::Rotate, spatial::SpatialOp};
/// let stripes = ndarray::Array3::from_shape_fn((6, 6, 4), |(i, _, _)| (i / 2) as u8);
/// let labels = Volume::label3(stripes, Affine::identity());
/// let turned = Rotate { angle: 90.0, ..Default::default() }.apply(&labels)?;
/// // A label map stays a label map: same dtype, no new label (nearest by default).
/// assert_eq!(turned.dtype(), DType::U8);
/// let set = |v: &Volume| v.to_image().image().map(|a| a.iter().map(|&x| x as u8).collect::<BTreeSet<_>>());
/// assert_eq!(set(&turned)?, set(&labels)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// The plane, two distinct voxel axes. Default `[0, 1]` (about z).
    #[serde(default = "default_axes")]
    pub axes: [usize; 2],
    /// The angle in degrees (scipy's sign convention).
    pub angle: f64,
    /// Grow the grid to hold the rotated volume (changes the shape). Default false.
    #[serde(default)]
    pub reshape: bool,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// No rotation, about z, with the default resampling: set `angle` (and `axes`) with
/// `Rotate { angle: 10.0, ..Default::default() }`.
impl Default for Rotate {
    fn default() -> Self {
        Rotate { axes: default_axes(), angle: 0.0, reshape: false, resampling: Resampling::default() }
    }
}

fn default_axes() -> [usize; 2] {
    [0, 1]
}

impl SpatialOp for Rotate {
    /// The rotation's effect on a grid.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let p = plane(self.axes, "axes")?;
        let linear = forward(self.angle, p);
        let same = spatial::augmentation(shape, affine, &linear, nalgebra::Vector3::zeros())?;
        if !self.reshape {
            return Ok(same);
        }
        let spacing = voxflow_core::volume::spacing(affine);
        let extent = [shape[p[0]] as f64 * spacing[p[0]], shape[p[1]] as f64 * spacing[p[1]]];
        let out_plane = reshaped(self.angle, extent, [spacing[p[0]], spacing[p[1]]]);
        let mut out_shape = shape;
        out_shape[p[0]] = out_plane[0];
        out_shape[p[1]] = out_plane[1];
        spatial::check_grid(out_shape, "reshape")?;
        // The output grid is the input's, moved so that both centres are the same world point.
        let d: [f64; 3] = std::array::from_fn(|a| (shape[a] as f64 - out_shape[a] as f64) / 2.0);
        let shift = Matrix4::new_translation(&nalgebra::Vector3::new(d[0], d[1], d[2]));
        Ok(Step { shape: out_shape, affine: affine * shift, out_to_in: same.out_to_in * shift })
    }

    fn check(&self) -> Result<(), GeometryError> {
        plane(self.axes, "axes")?;
        if !self.angle.is_finite() {
            return Err(GeometryError::param("angle", "must be finite"));
        }
        self.resampling.validate()
    }

    fn settings(&self) -> Resampling {
        self.resampling
    }
}

voxflow_core::op_doc!(
    "rotate",
    Rotate,
    "Rotates the content by `angle` degrees in the plane of two voxel axes about the centre (optionally growing the grid with `reshape`); an augmentation: the affine is kept.",
    r#"{"angle": 15.0}"#
);

#[typetag::serde(name = "rotate")]
impl Op for Rotate {
    spatial_op_node!();
}

fn default_degrees() -> [f64; 2] {
    [-10.0, 10.0]
}

fn default_planes() -> Vec<[usize; 2]> {
    vec![[1, 0], [1, 2], [0, 2]]
}

/// Draws a rotation: one plane and angle (the tutorial), or one angle per axis.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::random::{OneOf, RandomOp};
/// use voxflow_geometry::{rotate::RandomRotate, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let op = RandomRotate { degrees: [-20.0, 20.0], ..Default::default() };
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let OneOf::First(rotate) = op.draw(&mut rng, ())? else { panic!("one plane: a `rotate`") };
/// assert!((-20.0..=20.0).contains(&rotate.angle));
/// assert_eq!(rotate.apply(&volume)?.shape3(), [8, 8, 8]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomRotate {
    /// `[min, max]` of the angle in degrees for the plane draw. Default `[-10, 10]`.
    #[serde(default = "default_degrees")]
    pub degrees: [f64; 2],
    /// The planes one is drawn from, uniformly. Default `[[1, 0], [1, 2], [0, 2]]`.
    #[serde(default = "default_planes")]
    pub planes: Vec<[usize; 2]>,
    /// Instead of one plane: `[min, max]` degrees for the planes (1, 2), (0, 2) and (0, 1)
    /// (about x, y, z), each drawn and composed. Default none.
    #[serde(default)]
    pub per_axis: Option<[[f64; 2]; 3]>,
    /// Draw whole degrees (the tutorial's `randint`). Default false.
    #[serde(default)]
    pub integer: bool,
    /// The probability of rotating at all. Default 1.
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// The graph's defaults.
impl Default for RandomRotate {
    fn default() -> Self {
        RandomRotate {
            degrees: default_degrees(),
            planes: default_planes(),
            per_axis: None,
            integer: false,
            p: voxflow_core::params::default_p(),
            resampling: Resampling::default(),
        }
    }
}

/// What `random_rotate` draws: a `rotate` in one plane, or an `affine` (angles per axis, or the
/// identity when the probability says skip).
pub(crate) type RotateDraw = OneOf<Rotate, AffineTransform>;

impl RandomRotate {
    fn angle(&self, rng: &mut impl rand::Rng, [lo, hi]: [f64; 2]) -> f64 {
        if self.integer {
            let (lo, hi) = (lo.ceil() as i64, hi.floor() as i64);
            if hi > lo { rng.random_range(lo..=hi) as f64 } else { lo as f64 }
        } else {
            uniform(rng, [lo, hi])
        }
    }

    /// Draws the rotation (an identity affine when the probability says skip).
    pub(crate) fn sample(&self, rng: &mut impl rand::Rng) -> RotateDraw {
        let apply = rng.random_range(0.0..1.0) < self.p;
        if !apply {
            return OneOf::Second(AffineTransform::new(
                &Matrix3::identity(),
                [0.0; 3],
                Frame::Voxel,
                self.resampling,
            ));
        }
        if let Some(ranges) = self.per_axis {
            let planes = [[1, 2], [0, 2], [0, 1]];
            let mut linear = Matrix3::identity();
            for (r, p) in ranges.into_iter().zip(planes) {
                linear = forward(self.angle(rng, r), p) * linear;
            }
            return OneOf::Second(AffineTransform::new(&linear, [0.0; 3], Frame::Voxel, self.resampling));
        }
        let p = self.planes[rng.random_range(0..self.planes.len())];
        let angle = self.angle(rng, self.degrees);
        OneOf::First(Rotate { axes: p, angle, reshape: false, resampling: self.resampling })
    }
}

voxflow_core::op_doc!(
    "random_rotate",
    RandomRotate,
    "Draws a `rotate` (one plane and angle, or an angle per axis), with probability `p`; apply the draw with `apply`. An augmentation: the affine is kept.",
    "{}"
);

impl RandomOp for RandomRotate {
    type Drawn = RotateDraw;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        check_range("degrees", self.degrees)?;
        if self.per_axis.is_none() && self.planes.is_empty() {
            return Err(OpError::param("planes", "needs at least one plane"));
        }
        for &p in &self.planes {
            plane(p, "planes")?;
        }
        if let Some(ranges) = self.per_axis {
            for r in ranges {
                check_range("per_axis", r)?;
            }
        }
        spatial::check_augmentation(self.p, &self.resampling)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<RotateDraw, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_rotate")]
impl Op for RandomRotate {
    voxflow_core::random_op_node!(RandomRotate);
}
