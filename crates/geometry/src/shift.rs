//! `shift`: moves the anatomy on the same grid, and `random_shift`, which draws it.
//!
//! An augmentation: the affine is kept and the anatomy moves by `offset` along each voxel axis
//! (in millimetres, whole voxels, or a fraction of that axis' own size). On an axis-aligned volume
//! this is `scipy.ndimage.shift(data, offset_in_voxels)`; the voxel-space [`shift`] kernel is
//! exactly that.
//!
//! ```json
//! {"name": "moved", "op": "shift", "params": {"offset": [5.0, 0.0, -2.5]}}
//! {"name": "moved", "op": "shift", "params": {"offset": [0.1, 0, 0], "unit": "fraction", "mode": "nearest"}}
//! {"name": "draw", "op": "random_shift", "params": {"max": [0.2, 0.2, 0.2], "unit": "fraction", "integer": true}}
//! ```
//!
//! `random_shift` draws each axis' offset uniformly in `[-max, max]` (the tutorial's ±(dim × 0.4
//! / 2) is `"max": [0.2, 0.2, 0.2], "unit": "fraction"`, with each axis' own size), rounded to
//! whole voxels with `integer`, applied with probability `p`.

use crate::GeometryError;
use crate::resample::transform_image;
use crate::spatial::{self, Resampling, SpatialOp, Step, spatial_op_node};
use nalgebra::{Matrix3, Matrix4, Vector3};
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::random::{OneOf, RandomOp};
use voxflow_core::seed::Rng;
use voxflow_core::{Affine, BoundaryMode, Kind, Op, OpError};

/// The unit of an offset along a voxel axis.
///
/// ```
/// use nalgebra::{Matrix4, Vector4};
/// use voxflow_geometry::{shift::{Shift, Unit}, spatial::SpatialOp};
/// let affine = Matrix4::from_diagonal(&Vector4::new(2.0, 2.0, 2.0, 1.0)); // 2 mm voxels
/// let in_mm = Shift { offset: [4.0, 0.0, 0.0], unit: Unit::Mm, ..Default::default() };
/// let in_voxels = Shift { offset: [2.0, 0.0, 0.0], unit: Unit::Voxel, ..Default::default() };
/// let a_quarter = Shift { offset: [0.25, 0.0, 0.0], unit: Unit::Fraction, ..Default::default() };
/// assert_eq!(in_mm.step([8, 8, 8], &affine)?, in_voxels.step([8, 8, 8], &affine)?);
/// assert_eq!(a_quarter.step([8, 8, 8], &affine)?, in_voxels.step([8, 8, 8], &affine)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// Millimetres (default).
    #[default]
    Mm,
    /// Voxels of that axis.
    Voxel,
    /// A fraction of that axis' size (its number of voxels).
    Fraction,
}

impl Unit {
    /// `value` along axis `axis` of a grid, in voxels.
    #[must_use]
    pub(crate) fn to_voxels(self, value: f64, axis: usize, shape: [usize; 3], affine: &Affine) -> f64 {
        match self {
            Unit::Mm => {
                let spacing = voxflow_core::volume::spacing(affine)[axis];
                if spacing > 0.0 { value / spacing } else { 0.0 }
            }
            Unit::Voxel => value,
            Unit::Fraction => value * shape[axis] as f64,
        }
    }
}

/// Moves the anatomy by `offset` along the voxel axes; the grid and affine are kept.
///
/// ```
/// use voxflow_geometry::{shift::{Shift, Unit}, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let moved = Shift { offset: [0.0, 2.0, 0.0], unit: Unit::Voxel, ..Default::default() }.apply(&volume)?;
/// assert_eq!(moved.image()?[[1, 5, 3, 0]], volume.image()?[[1, 3, 3, 0]]);
/// assert_eq!(moved.affine, volume.affine);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// The offset along x, y, z (positive: towards higher voxel indices).
    pub offset: [f64; 3],
    /// `mm` (default), `voxel` or `fraction` (of each axis' size).
    #[serde(default)]
    pub unit: Unit,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// No shift, in mm, with the default resampling.
impl Default for Shift {
    fn default() -> Self {
        Shift { offset: [0.0; 3], unit: Unit::default(), resampling: Resampling::default() }
    }
}

impl SpatialOp for Shift {
    /// The shift's effect on a grid.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let vox: [f64; 3] = std::array::from_fn(|a| self.unit.to_voxels(self.offset[a], a, shape, affine));
        let spacing = voxflow_core::volume::spacing(affine);
        let mm = Vector3::new(vox[0] * spacing[0], vox[1] * spacing[1], vox[2] * spacing[2]);
        spatial::augmentation(shape, affine, &Matrix3::identity(), mm)
    }

    fn check(&self) -> Result<(), GeometryError> {
        if self.offset.iter().any(|v| !v.is_finite()) {
            return Err(GeometryError::param("offset", format!("{:?} must be finite", self.offset)));
        }
        self.resampling.validate()
    }
    fn settings(&self) -> Resampling {
        self.resampling
    }
}

/// `scipy.ndimage.shift(input, shift, order=order, mode=mode, cval=cval)` (voxel units, same
/// shape). `order` is 0, 1 or 3.
///
/// ```
/// use voxflow_core::BoundaryMode;
/// use voxflow_geometry::shift::shift;
/// let input = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (1 + i + j + k) as f32);
/// let moved = shift(input.view(), [1.0, 0.0, 0.0], 1, BoundaryMode::Constant, 0.0)?;
/// assert_eq!(moved[[1, 2, 3]], input[[0, 2, 3]]);
/// assert_eq!(moved[[0, 2, 3]], 0.0); // from outside: `cval`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn shift(
    input: ArrayView3<f32>,
    shift: [f64; 3],
    order: u8,
    mode: BoundaryMode,
    cval: f64,
) -> Result<Array3<f32>, GeometryError> {
    let order = spatial::scipy_order(order)?;
    let mut m = Matrix4::identity();
    for a in 0..3 {
        m[(a, 3)] = -shift[a];
    }
    let s = input.shape();
    Ok(transform_image(input, &m, None, [s[0], s[1], s[2]], order, mode, cval))
}

voxflow_core::op_doc!(
    "shift",
    Shift,
    "Translates the content by `offset` (in mm, voxels or fractions of the axis size), resampling on the same grid; an augmentation: the affine is kept.",
    r#"{"offset": [5.0, 0.0, 0.0]}"#
);

#[typetag::serde(name = "shift")]
impl Op for Shift {
    spatial_op_node!();
}

fn default_max() -> [f64; 3] {
    [0.2; 3]
}

/// Draws a [`Shift`]: each axis uniform in `[-max, max]`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_core::random::{OneOf, RandomOp};
/// use voxflow_geometry::shift::{RandomShift, Unit};
/// let op = RandomShift { max: [3.0, 3.0, 0.0], unit: Unit::Voxel, integer: true, ..Default::default() };
/// let OneOf::Second(drawn) = op.draw(&mut voxflow_core::seed::Rng::seed_from_u64(3), ())? else {
///     panic!("`integer` draws an `integer_shift`")
/// };
/// assert!(drawn.shift.offset.iter().all(|v| v.abs() <= 3.0));
/// assert_eq!(drawn.shift.offset[2], 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomShift {
    /// The largest offset along x, y, z, in `unit`. Default `[0.2, 0.2, 0.2]` (fractions).
    #[serde(default = "default_max")]
    pub max: [f64; 3],
    /// The unit of `max`: `mm`, `voxel` or `fraction` (default, of each axis' own size).
    #[serde(default = "fraction")]
    pub unit: Unit,
    /// Round the drawn offsets to whole voxels (no interpolation blur). Default false.
    #[serde(default)]
    pub integer: bool,
    /// The probability of shifting at all. Default 1.
    #[serde(default = "voxflow_core::params::default_p")]
    pub p: f64,
    /// Interpolation, boundary mode and fill (flattened into the parameters).
    #[serde(flatten)]
    pub resampling: Resampling,
}

/// The graph's defaults.
impl Default for RandomShift {
    fn default() -> Self {
        RandomShift {
            max: default_max(),
            unit: fraction(),
            integer: false,
            p: voxflow_core::params::default_p(),
            resampling: Resampling::default(),
        }
    }
}

fn fraction() -> Unit {
    Unit::Fraction
}

/// What `random_shift` draws: a `shift`, or with `integer` an `integer_shift`.
pub(crate) type ShiftDraw = OneOf<Shift, IntegerShift>;

impl RandomShift {
    /// Draws the shift. With `integer`, the offset is drawn in `unit` and applied in whole
    /// voxels when the op runs (the draw keeps the unit so it fits any grid).
    pub(crate) fn sample(&self, rng: &mut impl rand::Rng) -> ShiftDraw {
        let apply = rng.random_range(0.0..1.0) < self.p;
        let offset = std::array::from_fn(|a| {
            let m = self.max[a];
            let v = if m > 0.0 { rng.random_range(-m..=m) } else { 0.0 };
            if apply { v } else { 0.0 }
        });
        let shift = Shift { offset, unit: self.unit, resampling: self.resampling };
        if self.integer { OneOf::Second(IntegerShift { shift }) } else { OneOf::First(shift) }
    }
}

/// A shift rounded to whole voxels on the grid it is applied to.
///
/// ```
/// use voxflow_geometry::{shift::{IntegerShift, Shift, Unit}, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let shift = |x| Shift { offset: [x, 0.0, 0.0], unit: Unit::Voxel, ..Default::default() };
/// let rounded = IntegerShift { shift: shift(1.4) }.apply(&volume)?;
/// assert_eq!(rounded, shift(1.0).apply(&volume)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IntegerShift {
    /// The shift before rounding (in any unit).
    pub shift: Shift,
}

/// No shift.
impl Default for IntegerShift {
    fn default() -> Self {
        IntegerShift { shift: Shift::default() }
    }
}

voxflow_core::op_doc!(
    "integer_shift",
    IntegerShift,
    "A `shift` rounded to whole voxels of the grid it is applied to (no interpolation blur); an augmentation: the affine is kept.",
    r#"{"shift": {"offset": [5.0, 0.0, 0.0]}}"#
);

impl SpatialOp for IntegerShift {
    /// The shift, rounded to whole voxels of this grid.
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError> {
        let vox = std::array::from_fn(|a| {
            self.shift.unit.to_voxels(self.shift.offset[a], a, shape, affine).round()
        });
        Shift { offset: vox, unit: Unit::Voxel, resampling: self.shift.resampling }.step(shape, affine)
    }

    fn check(&self) -> Result<(), GeometryError> {
        self.shift.check()
    }

    fn settings(&self) -> Resampling {
        self.shift.resampling
    }
}

#[typetag::serde(name = "integer_shift")]
impl Op for IntegerShift {
    spatial_op_node!();
}

voxflow_core::op_doc!(
    "random_shift",
    RandomShift,
    "Draws a `shift` with each offset uniform in `[-max, max]` (optionally whole voxels), with probability `p`; apply the draw with `apply`. An augmentation: the affine is kept.",
    "{}"
);

impl RandomOp for RandomShift {
    type Drawn = ShiftDraw;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image, Kind::Label];

    fn check(&self) -> Result<(), OpError> {
        if self.max.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err(OpError::param("max", format!("{:?} must be finite and >= 0", self.max)));
        }
        spatial::check_augmentation(self.p, &self.resampling)
    }

    fn draw(&self, rng: &mut Rng, (): ()) -> Result<ShiftDraw, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_shift")]
impl Op for RandomShift {
    voxflow_core::random_op_node!(RandomShift);
}
