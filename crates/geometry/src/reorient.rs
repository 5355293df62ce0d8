//! `reorient`: to the closest canonical (RAS+) voxel order, by permuting and flipping axes only.
//!
//! No interpolation: voxels are moved, never recomputed, and the affine is updated so every
//! voxel keeps its world position. The orientation is read from the affine by
//! `voxflow_core::orientation` (nibabel 5.4.2's `io_orientation`: the closest shear-free
//! rotation, by polar decomposition, then the dominant world axis of each voxel axis, strongest
//! axis first), and the result matches nibabel's
//! `as_closest_canonical` (voxels and affine). An oblique volume stays oblique: only the
//! voxel axes are reordered, the residual rotation remains in the affine.
//!
//! ```json
//! {"name": "ras", "op": "reorient", "params": {}}
//! ```

use crate::grid::{self, Voxel};
use ndarray::{Array3, ArrayView3, Axis, ShapeBuilder, Zip};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use voxflow_core::{Affine, Facts, Inputs, Op, OpError, RunContext, Value, Volume};

/// Reorients to RAS+ voxel order (nibabel `as_closest_canonical`).
///
/// ```
/// use nalgebra::Matrix4;
/// use voxflow_core::{Affine, Orientation, Volume};
/// use voxflow_geometry::reorient::Reorient;
/// // Voxel axes running P, L, S (y first, x reversed second).
/// let pls = Matrix4::new(0.0, -1.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
/// let volume = Volume::image3(ndarray::Array3::zeros((2, 3, 4)), pls);
/// assert_eq!(Orientation::of(&volume.affine)?.axcodes(), ['P', 'L', 'S']);
/// let ras = Reorient {}.apply(&volume)?;
/// assert_eq!(Orientation::of(&ras.affine)?.axcodes(), ['R', 'A', 'S']);
/// assert_eq!(ras.shape3(), [3, 2, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reorient {}

/// Where each voxel axis goes (nibabel's `ornt`), read from the affine by voxflow-core's one
/// `io_orientation` (nibabel 5.4.2).
pub use voxflow_core::orientation::Orientation;

/// Permutes and flips a frame (nibabel's `apply_orientation`), keeping the input's memory
/// order (a Fortran-ordered input gives a Fortran-ordered output).
///
/// ```
/// use voxflow_geometry::reorient::{Orientation, reorient};
/// let input = ndarray::Array3::from_shape_fn((2, 3, 4), |(i, j, k)| (i + 10 * j + 100 * k) as f32);
/// // Input axis 0 becomes output axis 1, reversed; axis 1 becomes axis 0.
/// let out = reorient(input.view(), &Orientation { axis: [1, 0, 2], flip: [true, false, false] });
/// assert_eq!(out.shape(), [3, 2, 4]);
/// assert_eq!(out[[2, 0, 3]], input[[1, 2, 3]]);
/// ```
#[must_use]
pub fn reorient<T: Voxel>(input: ArrayView3<'_, T>, orientation: &Orientation) -> Array3<T> {
    if orientation.axis == [0, 1, 2] {
        // Flips only (e.g. LAS to RAS): the row-copying flip kernel.
        return crate::flip::flip_axes(input, orientation.flip);
    }
    let fortran = input.as_slice().is_none() && input.t().as_slice().is_some();
    let mut v = input;
    for i in 0..3 {
        if orientation.flip[i] {
            v.invert_axis(Axis(i));
        }
    }
    let mut inverse = [0usize; 3];
    for i in 0..3 {
        inverse[orientation.axis[i]] = i;
    }
    let v = v.permuted_axes(inverse);
    let s = v.shape();
    let mut out = Array3::from_elem([s[0], s[1], s[2]].set_f(fortran), T::default());
    // A pure copy, so the result does not depend on how rayon splits it.
    Zip::from(&mut out).and(&v).par_for_each(|o, &i| *o = i);
    out
}

struct Kernel(Orientation);

/// Moves the voxel axes of a volume in memory as `o` says (input axis `i` becomes output axis
/// `o.axis[i]`, reversed when `o.flip[i]`; frames alike), with the affine updated so every
/// voxel keeps its world position. The one kernel behind `reorient`, `rot90` and `transpose`.
pub(crate) fn permute_volume(volume: &Volume, o: Orientation) -> Result<Volume, OpError> {
    if o == Orientation::IDENTITY {
        return Ok(volume.clone());
    }
    let affine = volume.affine * o.index_matrix(volume.shape3());
    grid::map_volume(volume, affine, 0.0, "volume", &Kernel(o))
}

/// [`permute_volume`] as a node's `run`: a pending resample gets the exact index map composed
/// in (no second interpolation); a volume in memory is copied. The identity passes the value
/// through untouched.
pub(crate) fn run_permutation(
    ctx: &RunContext<'_>,
    mut inputs: Inputs,
    o: Orientation,
) -> Result<Value, OpError> {
    if o == Orientation::IDENTITY {
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
            Ok(grid::compose(pending, o.shape(pending.spec.shape), &o.index_matrix(pending.spec.shape), true))
        },
        |v| permute_volume(v, o),
    )
}

impl grid::FrameKernel for Kernel {
    fn frame<T: Voxel>(&self, frame: ArrayView3<'_, T>, _fill: T) -> Array3<T> {
        reorient(frame, &self.0)
    }
}

fn orientation(affine: &Affine) -> Result<Orientation, OpError> {
    Orientation::of(affine).map_err(|e| OpError::other(crate::GeometryError::Orientation(e)))
}

impl Reorient {
    /// Reorients a volume in memory (returns a copy unchanged when it is already RAS+).
    ///
    /// ```
    /// use voxflow_core::{Affine, Volume};
    /// use voxflow_geometry::reorient::Reorient;
    /// let las = Affine::from_diagonal(&nalgebra::Vector4::new(-1.0, 1.0, 1.0, 1.0));
    /// let data = ndarray::Array3::from_shape_fn((3, 3, 3), |(i, j, k)| (i + 3 * j + 9 * k) as f32);
    /// let volume = Volume::image3(data, las);
    /// let ras = Reorient {}.apply(&volume)?;
    /// assert_eq!(ras.image()?[[0, 1, 2, 0]], volume.image()?[[2, 1, 2, 0]]); // x reversed
    /// assert_eq!(Reorient {}.apply(&ras)?, ras); // already RAS+: unchanged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        permute_volume(volume, orientation(&volume.affine)?)
    }
}

voxflow_core::op_doc!(
    "reorient",
    Reorient,
    "Reorders and flips voxel axes to the closest canonical RAS+ order without interpolation (nibabel `as_closest_canonical`); a grid op: the affine is updated so every voxel keeps its world position.",
    "{}"
);

#[typetag::serde(name = "reorient")]
impl Op for Reorient {
    fn accepts_deferred(&self) -> bool {
        true
    }

    fn output_shape(&self, inputs: &BTreeMap<String, Facts>) -> Result<Option<[usize; 3]>, OpError> {
        // The permutation is read from the file's affine; only a cube keeps its shape under any.
        Ok(inputs.get("volume").and_then(|f| f.shape).filter(|&[x, y, z]| x == y && y == z))
    }

    fn run(&self, ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        let value = inputs.take("volume")?;
        let affine = match &value {
            Value::Volume(v) => v.affine,
            Value::Deferred(d) => d.spec.affine,
            Value::Draw(_) => {
                return Err(OpError::Input { port: "volume".into(), message: "expected a volume".into() });
            }
        };
        let o = orientation(&affine)?;
        inputs.0.insert("volume".into(), value);
        run_permutation(ctx, inputs, o)
    }
}
