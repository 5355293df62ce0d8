//! How spatial ops fuse: each op describes its effect on the grid as a [`Step`], and
//! [`defer`] composes it into the pending resample of a [`Value::Deferred`] instead of
//! resampling. [`materialize`] performs the one resample at the end of a chain.
//!
//! Conventions: a step's `out_to_in` maps the step's output voxel indices to its input voxel
//! indices (what scipy's `affine_transform` takes). Composing `A` then `B` gives
//! `out_to_in = M_A · M_B`. Augmentations are given in world millimetres as the forward motion
//! of the anatomy about the volume's physical centre, turned into a voxel matrix by
//! `A⁻¹ · T(c) · world⁻¹ · T(-c) · A`.
//!
//! The spatial ops themselves ([`SpatialOp`]) apply to a volume in memory in one call; [`Step`],
//! [`defer`], [`materialize`] and [`finest`] are the plumbing other voxflow crates (elastic, the
//! graph runner) fuse their own resamples with.

use crate::GeometryError;
use crate::resample::resample_volume;
use nalgebra::Matrix4;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use voxflow_core::{
    Affine, BoundaryMode, Deferred, Fill, FillRule, Interpolation, Kind, ResampleSpec, Value, Volume,
};

/// Resampling settings shared by every spatial op (flattened into its parameters).
///
/// ```json
/// {"interpolation": "cubic", "label_interpolation": "label", "mode": "constant", "fill": "minimum", "label_fill": 0}
/// ```
///
/// ```
/// use voxflow_core::{BoundaryMode, Interpolation};
/// use voxflow_geometry::spatial::Resampling;
/// let cubic = Resampling { interpolation: Interpolation::Cubic, ..Default::default() };
/// let parsed: Resampling = serde_json::from_str(r#"{"interpolation": "cubic"}"#)?;
/// assert_eq!(parsed, cubic);
/// assert_eq!(cubic.mode, BoundaryMode::Constant);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Resampling {
    /// Interpolation for images: `nearest`, `linear` (default) or `cubic`.
    #[serde(default)]
    pub interpolation: Interpolation,
    /// Interpolation for label maps: `nearest` (default) or `label` (one-hot linear arg-max).
    #[serde(default = "nearest")]
    pub label_interpolation: Interpolation,
    /// What lies outside the input, scipy's names: `constant` (default), `grid-constant`,
    /// `nearest`, `reflect`, `mirror`, `wrap`, `grid-wrap`.
    #[serde(default)]
    pub mode: BoundaryMode,
    /// Fill value for images outside the input: `"minimum"` (default: the image's minimum, so
    /// that air stays air after normalisation and 0 HU, water, is not painted into CT) or a
    /// number (`0` is scipy's `cval=0`).
    #[serde(default = "minimum")]
    pub fill: Fill,
    /// Fill label for label maps outside the input (default 0; e.g. 255 or -1 for "ignore").
    #[serde(default)]
    pub label_fill: i64,
}

fn minimum() -> Fill {
    Fill::Rule(FillRule::Minimum)
}

fn nearest() -> Interpolation {
    Interpolation::Nearest
}

impl Default for Resampling {
    fn default() -> Self {
        Resampling {
            interpolation: Interpolation::Linear,
            label_interpolation: Interpolation::Nearest,
            mode: BoundaryMode::Constant,
            fill: minimum(),
            label_fill: 0,
        }
    }
}

/// The names of [`Resampling`]'s fields, for ops that flatten it and must still reject unknown
/// keys.
pub(crate) const RESAMPLING_FIELDS: [&str; 5] =
    ["interpolation", "label_interpolation", "mode", "fill", "label_fill"];

impl Resampling {
    /// Checks the settings (images cannot use `label`; label maps only `nearest` / `label`).
    ///
    /// ```
    /// use voxflow_core::Interpolation;
    /// use voxflow_geometry::spatial::Resampling;
    /// assert!(Resampling::default().validate().is_ok());
    /// let label_on_images = Resampling { interpolation: Interpolation::Label, ..Default::default() };
    /// assert!(label_on_images.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), GeometryError> {
        if self.interpolation == Interpolation::Label {
            return Err(GeometryError::param(
                "interpolation",
                "`label` is for label maps; use `label_interpolation`",
            ));
        }
        if !matches!(self.label_interpolation, Interpolation::Nearest | Interpolation::Label) {
            return Err(GeometryError::param(
                "label_interpolation",
                "label maps are resampled `nearest` or `label` (one-hot), never into new values",
            ));
        }
        if let Fill::Value(v) = self.fill
            && !v.is_finite()
        {
            return Err(GeometryError::param("fill", "must be finite"));
        }
        Ok(())
    }

    /// The interpolation and fill for a volume of `kind`.
    ///
    /// ```
    /// use voxflow_core::{Fill, Interpolation, Kind};
    /// use voxflow_geometry::spatial::Resampling;
    /// let settings = Resampling { label_fill: 255, ..Default::default() };
    /// assert_eq!(settings.for_kind(Kind::Label), (Interpolation::Nearest, Fill::Value(255.0)));
    /// assert_eq!(settings.for_kind(Kind::Image).0, Interpolation::Linear);
    /// ```
    #[must_use]
    pub fn for_kind(&self, kind: Kind) -> (Interpolation, Fill) {
        match kind {
            Kind::Label => (self.label_interpolation, Fill::Value(self.label_fill as f64)),
            Kind::Image | Kind::Draw => (self.interpolation, self.fill),
        }
    }
}

/// One spatial op's effect on the grid: the output grid (shape, affine) and how its voxels map
/// back onto the input grid's voxels ([`SpatialOp::step`]; [`defer`] composes it).
///
/// ```
/// use nalgebra::{Matrix4, Vector4};
/// use voxflow_geometry::{resize::Resize, spatial::SpatialOp};
/// let resize = Resize { factor: None, shape: Some([7, 7, 7]), ..Default::default() };
/// let step = resize.step([4, 4, 4], &Matrix4::identity())?;
/// assert_eq!(step.shape, [7, 7, 7]);
/// // Output voxel 6 (the last) reads input voxel 3 (the last): corner centres stay aligned.
/// assert_eq!(step.out_to_in * Vector4::new(6.0, 6.0, 6.0, 1.0), Vector4::new(3.0, 3.0, 3.0, 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// The output grid's shape `[x, y, z]`.
    pub shape: [usize; 3],
    /// The output grid's voxel-to-world affine.
    pub affine: Affine,
    /// Output voxel index to input voxel index (homogeneous).
    pub out_to_in: Matrix4<f64>,
}

/// The grid a value currently has (after any pending resample): shape and affine.
pub(crate) fn grid(value: &Value) -> Result<([usize; 3], Affine), GeometryError> {
    match value {
        Value::Volume(v) => Ok((v.shape3(), v.affine)),
        Value::Deferred(d) => Ok((d.spec.shape, d.spec.affine)),
        Value::Draw(op) => Err(GeometryError::NotAVolume { got: format!("a draw ({op:?})") }),
    }
}

/// The interpolation of a fused chain: the finest of the one `pending` so far and the one an op
/// `asks` (nearest < linear = label < cubic; a tie keeps `pending`). Plumbing for ops outside
/// this crate that fuse into a pending resample (elastic).
///
/// ```
/// use voxflow_core::Interpolation::{Cubic, Label, Linear, Nearest};
/// use voxflow_geometry::spatial::finest;
/// assert_eq!(finest(Nearest, Cubic), Cubic);
/// assert_eq!(finest(Label, Linear), Label);
/// ```
#[must_use]
pub fn finest(pending: Interpolation, asks: Interpolation) -> Interpolation {
    fn rank(i: Interpolation) -> u8 {
        match i {
            Interpolation::Nearest => 0,
            Interpolation::Label | Interpolation::Linear => 1,
            Interpolation::Cubic => 2,
        }
    }
    if rank(pending) >= rank(asks) { pending } else { asks }
}

/// Adds a step to a value: a volume becomes a [`Deferred`]; a deferred value gets the step
/// composed in (`out_to_in = prev · step.out_to_in`). A deferred value with a displacement
/// field is resampled first (a field cannot be composed with a following matrix). The chain
/// keeps the finest interpolation asked along it, and the latest mode and fill.
///
/// ```
/// use std::sync::Arc;
/// use nalgebra::{Matrix4, Vector3};
/// use voxflow_core::{Affine, Value, Volume};
/// use voxflow_geometry::spatial::{Resampling, Step, defer};
/// let volume = Arc::new(Volume::image3(ndarray::Array3::zeros((4, 4, 4)), Affine::identity()));
/// let one = Step { shape: [4, 4, 4], affine: Affine::identity(), out_to_in: Matrix4::new_translation(&Vector3::x()) };
/// let once = defer(Value::Volume(volume), &one, &Resampling::default())?;
/// let Value::Deferred(twice) = defer(once, &one, &Resampling::default())? else { panic!("pending") };
/// assert_eq!(twice.spec.out_to_in, Matrix4::new_translation(&Vector3::new(2.0, 0.0, 0.0)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn defer(value: Value, step: &Step, settings: &Resampling) -> Result<Value, GeometryError> {
    let value = match value {
        Value::Deferred(d) if d.spec.field.is_some() => Value::Volume(Arc::new(materialize(&d)?)),
        other => other,
    };
    match value {
        Value::Volume(source) => {
            let (interpolation, fill) = settings.for_kind(source.kind());
            Ok(Value::Deferred(Deferred {
                source,
                spec: ResampleSpec {
                    shape: step.shape,
                    affine: step.affine,
                    out_to_in: step.out_to_in,
                    interpolation,
                    mode: settings.mode,
                    fill,
                    field: None,
                },
            }))
        }
        Value::Deferred(Deferred { source, spec }) => {
            let (interpolation, fill) = settings.for_kind(source.kind());
            let interpolation = finest(spec.interpolation, interpolation);
            Ok(Value::Deferred(Deferred {
                source,
                spec: ResampleSpec {
                    shape: step.shape,
                    affine: step.affine,
                    out_to_in: crate::resample::snap_voxel_matrix(&(spec.out_to_in * step.out_to_in)),
                    interpolation,
                    mode: settings.mode,
                    fill,
                    field: None,
                },
            }))
        }
        Value::Draw(op) => Err(GeometryError::NotAVolume { got: format!("a draw ({op:?})") }),
    }
}

/// Performs a pending resample (one pass over the output grid).
///
/// ```
/// use std::sync::Arc;
/// use nalgebra::{Matrix4, Vector3};
/// use voxflow_core::{Affine, Value, Volume};
/// use voxflow_geometry::spatial::{Resampling, Step, defer, materialize};
/// # let volume = Volume::image3(ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32), Affine::identity());
/// let shift = Step { shape: [4, 4, 4], affine: volume.affine, out_to_in: Matrix4::new_translation(&Vector3::x()) };
/// let pending = defer(Value::Volume(Arc::new(volume.clone())), &shift, &Resampling::default())?;
/// let Value::Deferred(pending) = pending else { panic!("a volume is deferred") };
/// let moved = materialize(&pending)?;
/// assert_eq!(moved.image()?[[0, 2, 3, 0]], volume.image()?[[1, 2, 3, 0]]); // output x reads input x + 1
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn materialize(pending: &Deferred) -> Result<Volume, GeometryError> {
    resample_volume(&pending.source, &pending.spec)
}

/// The world position of the volume's physical centre (the centre of voxel `(n - 1) / 2`).
#[must_use]
pub(crate) fn centre(volume_shape: [usize; 3], affine: &Affine) -> nalgebra::Vector4<f64> {
    let c = volume_shape.map(|n| (n as f64 - 1.0) / 2.0);
    affine * nalgebra::Vector4::new(c[0], c[1], c[2], 1.0)
}

/// The voxel-space `out_to_in` of an augmentation given in world millimetres as the forward
/// motion `world` of the anatomy about the volume's physical centre:
/// `A⁻¹ · T(c) · world⁻¹ · T(-c) · A`. On an isotropic axis-aligned volume this is scipy's
/// matrix about the array centre. An error for a singular matrix or affine.
pub(crate) fn try_about_centre(
    volume_shape: [usize; 3],
    affine: &Affine,
    world: &Matrix4<f64>,
) -> Result<Matrix4<f64>, GeometryError> {
    let c = centre(volume_shape, affine);
    let to_centre = Matrix4::new_translation(&nalgebra::Vector3::new(-c[0], -c[1], -c[2]));
    let from_centre = Matrix4::new_translation(&nalgebra::Vector3::new(c[0], c[1], c[2]));
    let inv_world =
        world.try_inverse().ok_or_else(|| GeometryError::param("matrix", "the transform is singular"))?;
    let inv_affine = affine.try_inverse().ok_or(GeometryError::SingularAffine)?;
    Ok(inv_affine * from_centre * inv_world * to_centre * affine)
}

/// A spatial op whose effect is one [`Step`] on its input's grid (shift, rotate, scale, affine,
/// resize): [`apply`](SpatialOp::apply) runs it on a volume in memory, in one resample. In a
/// graph, its node's `run` composes the step into the pending resample instead, so a chain of
/// spatial ops resamples once.
///
/// ```
/// use voxflow_geometry::{rotate::Rotate, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let rotated = Rotate { angle: 10.0, ..Default::default() }.apply(&volume)?;
/// assert_eq!(rotated.shape3(), volume.shape3());
/// assert_eq!(rotated.affine, volume.affine); // an augmentation: the anatomy moves, the grid stays
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait SpatialOp {
    /// Checks the parameters (the node's `validate`).
    ///
    /// ```
    /// use voxflow_geometry::{scale::{Factor, Scale}, spatial::SpatialOp};
    /// assert!(Scale { factor: Factor::Isotropic(1.2), ..Default::default() }.check().is_ok());
    /// assert!(Scale { factor: Factor::Isotropic(0.0), ..Default::default() }.check().is_err());
    /// ```
    fn check(&self) -> Result<(), GeometryError>;
    /// The settings of the op's resample.
    ///
    /// ```
    /// use voxflow_core::BoundaryMode;
    /// use voxflow_geometry::{resize::Resize, spatial::SpatialOp};
    /// assert_eq!(Resize::default().settings().mode, BoundaryMode::Constant);
    /// // scipy's zoom with `grid_mode` reads `constant` as `grid-constant`.
    /// assert_eq!(Resize { grid_mode: true, ..Default::default() }.settings().mode, BoundaryMode::GridConstant);
    /// ```
    fn settings(&self) -> Resampling;
    /// The op's effect on a grid of `shape` with `affine`.
    ///
    /// ```
    /// use nalgebra::{Matrix4, Vector3};
    /// use voxflow_geometry::{shift::{Shift, Unit}, spatial::SpatialOp};
    /// let shift = Shift { offset: [2.0, 0.0, 0.0], unit: Unit::Voxel, ..Default::default() };
    /// let step = shift.step([8, 8, 8], &Matrix4::identity())?;
    /// assert_eq!(step.shape, [8, 8, 8]);
    /// assert_eq!(step.out_to_in, Matrix4::new_translation(&Vector3::new(-2.0, 0.0, 0.0)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn step(&self, shape: [usize; 3], affine: &Affine) -> Result<Step, GeometryError>;
    /// The output's grid shape as validation knows it, given the input's (`None`: unknown).
    /// The default keeps the grid (augmentations); `resize` sets it.
    ///
    /// ```
    /// use voxflow_geometry::{resize::Resize, rotate::Rotate, spatial::SpatialOp};
    /// assert_eq!(Rotate::default().known_shape(Some([8, 8, 4])), Some([8, 8, 4]));
    /// let resize = Resize { factor: None, shape: Some([64, 64, 32]), ..Default::default() };
    /// assert_eq!(resize.known_shape(None), Some([64, 64, 32]));
    /// ```
    fn known_shape(&self, input: Option<[usize; 3]>) -> Option<[usize; 3]> {
        input
    }

    /// Applies the op to a volume in memory, in one resampling (what a graph node does,
    /// without a graph): `Rotate { angle: 10.0, ..Default::default() }.apply(&volume)`.
    ///
    /// ```
    /// use voxflow_geometry::{rotate::Rotate, scale::Scale, spatial::SpatialOp};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// // Rotating by 0° or scaling by 1 leaves every voxel as it is.
    /// assert_eq!(Rotate { angle: 0.0, ..Default::default() }.apply(&volume)?, volume);
    /// assert_eq!(Scale::default().apply(&volume)?, volume);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn apply(&self, volume: &Volume) -> Result<Volume, GeometryError> {
        self.check()?;
        let step = self.step(volume.shape3(), &volume.affine)?;
        resample_once(volume, &step, &self.settings())
    }
}

/// A volume in memory resampled by one step (what [`SpatialOp::apply`] and the grid ops'
/// `apply` do: [`defer`], then [`materialize`]).
pub(crate) fn resample_once(
    volume: &Volume,
    step: &Step,
    settings: &Resampling,
) -> Result<Volume, GeometryError> {
    match defer(Value::Volume(Arc::new(volume.clone())), step, settings)? {
        Value::Deferred(pending) => materialize(&pending),
        Value::Volume(v) => Ok(Arc::unwrap_or_clone(v)),
        Value::Draw(op) => Err(GeometryError::NotAVolume { got: format!("a draw ({op:?})") }),
    }
}

/// A random augmentation's `check` after its own parameters: the probability `p` and the
/// resampling settings.
pub(crate) fn check_augmentation(p: f64, resampling: &Resampling) -> Result<(), voxflow_core::OpError> {
    voxflow_core::params::check_p(p)?;
    Ok(resampling.validate()?)
}

/// The body of a [`SpatialOp`]'s `impl Op`:
///
/// ```text
/// #[typetag::serde(name = "scale")]
/// impl Op for Scale {
///     spatial_op_node!();
/// }
/// ```
macro_rules! spatial_op_node {
    () => {
        fn validate(&self) -> ::std::result::Result<(), ::voxflow_core::OpError> {
            Ok($crate::spatial::SpatialOp::check(self)?)
        }

        $crate::spatial::grid_node!($crate::spatial::SpatialOp);

        fn run(
            &self,
            _ctx: &mut ::voxflow_core::RunContext<'_>,
            mut inputs: ::voxflow_core::Inputs,
        ) -> ::std::result::Result<::voxflow_core::Value, ::voxflow_core::OpError> {
            $crate::spatial::SpatialOp::check(self)?;
            let settings = $crate::spatial::SpatialOp::settings(self);
            $crate::spatial::run_step(&mut inputs, &settings, |shape, affine| {
                $crate::spatial::SpatialOp::step(self, shape, affine)
            })
        }
    };
}
pub(crate) use spatial_op_node;

/// What every node that changes the grid of its `volume` input shares (spatial and window ops):
/// it takes a pending resample (to fuse into it), and its output's shape is its op trait's
/// `known_shape` of the input's.
macro_rules! grid_node {
    ($op_trait:path) => {
        fn accepts_deferred(&self) -> bool {
            true
        }

        fn output_shape(
            &self,
            inputs: &::std::collections::BTreeMap<::std::string::String, ::voxflow_core::Facts>,
        ) -> ::std::result::Result<::std::option::Option<[usize; 3]>, ::voxflow_core::OpError> {
            Ok(<Self as $op_trait>::known_shape(self, inputs.get("volume").and_then(|f| f.shape)))
        }
    };
}
pub(crate) use grid_node;

/// The usual body of a spatial op's `run`: takes the `volume` input (in memory or pending),
/// asks `step` for the op's effect on its current grid (shape, affine) and defers it. A step
/// that changes nothing passes the value through untouched.
pub(crate) fn run_step(
    inputs: &mut voxflow_core::Inputs,
    settings: &Resampling,
    step: impl FnOnce([usize; 3], &Affine) -> Result<Step, GeometryError>,
) -> Result<Value, voxflow_core::OpError> {
    settings.validate()?;
    let value = inputs.take("volume")?;
    let (shape, affine) = grid(&value)?;
    let mut step = step(shape, &affine)?;
    check_grid(step.shape, "shape")?;
    step.out_to_in = crate::resample::snap_voxel_matrix(&step.out_to_in);
    if step.shape == shape && step.affine == affine && step.out_to_in == Matrix4::identity() {
        return Ok(value);
    }
    Ok(defer(value, &step, settings)?)
}

/// Checks an output grid (one f32 frame) against the memory budget before anything is made;
/// the error names `param`, the parameter that decided the grid.
pub(crate) fn check_grid(shape: [usize; 3], param: &'static str) -> Result<(), GeometryError> {
    voxflow_core::memory::check_buffer(&shape, 4)
        .map(|_| ())
        .map_err(|e| GeometryError::param(param, e.to_string()))
}

/// The directions of the voxel axes in world space: the affine's columns, normalised.
#[must_use]
pub(crate) fn directions(affine: &Affine) -> nalgebra::Matrix3<f64> {
    let mut d = affine.fixed_view::<3, 3>(0, 0).into_owned();
    for mut col in d.column_iter_mut() {
        let n = col.norm();
        if n > 0.0 {
            col /= n;
        }
    }
    d
}

/// A linear map given along the volume's voxel axes (in millimetres) as a world transform:
/// `D · L · D⁻¹` (`D` = [`directions`]), so a rotation "in the plane of axes 0 and 1" is a
/// rigid rotation in world space even on an anisotropic or oblique volume.
pub(crate) fn along_voxel_axes(
    affine: &Affine,
    linear: &nalgebra::Matrix3<f64>,
) -> Result<Matrix4<f64>, GeometryError> {
    let d = directions(affine);
    let d_inv = d.try_inverse().ok_or(GeometryError::SingularAffine)?;
    Ok((d * linear * d_inv).to_homogeneous())
}

/// The voxel matrix of an augmentation given along the voxel axes in mm (`linear`, forward
/// motion of the anatomy) plus a world translation in mm, about the physical centre.
pub(crate) fn augmentation(
    shape: [usize; 3],
    affine: &Affine,
    linear: &nalgebra::Matrix3<f64>,
    translation_mm: nalgebra::Vector3<f64>,
) -> Result<Step, GeometryError> {
    let mut world = along_voxel_axes(affine, linear)?;
    let t = directions(affine) * translation_mm;
    world[(0, 3)] += t[0];
    world[(1, 3)] += t[1];
    world[(2, 3)] += t[2];
    Ok(Step { shape, affine: *affine, out_to_in: try_about_centre(shape, affine, &world)? })
}

/// The `order` parameter of the voxel-space kernels (scipy's spline order: 0, 1 or 3).
pub(crate) fn scipy_order(order: u8) -> Result<crate::resample::Order, GeometryError> {
    crate::resample::Order::from_scipy(order).map_err(|e| GeometryError::param("order", e.to_string()))
}
