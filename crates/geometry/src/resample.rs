//! The resampling core: one output grid pulled back through a 4x4 voxel matrix onto the input.
//!
//! Every spatial op ends here. For each output voxel `o`, the input coordinate is
//! `c = M · (o + d(o))` (`M` = [`ResampleSpec::out_to_in`], `d` an optional displacement field),
//! and the input is interpolated there exactly as scipy.ndimage does it (`map_coordinates` /
//! `affine_transform`): order 0 (nearest, rounding half up), 1 (linear) or 3 (cubic B-spline on
//! scipy's prefiltered coefficients), with scipy's boundary modes ([`boundary`]). Label maps are
//! resampled nearest, or by [`Interpolation::Label`]: the arg-max of every label's linearly
//! interpolated one-hot map, computed from the few labels under each window (never one map per
//! label).
//!
//! Output arrays are in Fortran order (x fastest, as NIfTI stores them). Work is split over output
//! z-slices with rayon; every voxel is computed independently, so the bytes do not depend on
//! the number of threads.
//!
//! The parts, by what they hold:
//! * this file: the API ([`resample_volume`], [`Order`]) and `snap_voxel_matrix`;
//! * `dispatch`: [`transform_image`] / [`transform_labels`], which choose the path from the
//!   interpolation order and the class of map (in-plane, with a field, general);
//! * `drive`: the fill drivers (tiles of rows, planes, rows with a displacement field, the
//!   general per-voxel loop), which split each row into its fast interior and its border;
//! * `sample`: the per-voxel samplers of the general path (nearest, linear, cubic, one-hot);
//! * `fast`: row interiors; [`boundary`]: scipy's modes; `spline`: the cubic prefilter.
//!
//! [`resample_volume`], [`transform_image`] and [`Order`] are also the plumbing other voxflow
//! crates resample with (elastic, intensity's low-resolution simulation).

pub mod boundary;
mod dispatch;
mod drive;
mod fast;
mod sample;
mod spline;

use crate::GeometryError;
use nalgebra::Matrix4;
use ndarray::Array3;
use voxflow_core::resample::FillRule;
use voxflow_core::volume::stack_frames;
use voxflow_core::{Fill, Interpolation, LabelArray, LabelType, ResampleSpec, Volume, Voxels, map_labels};

pub use dispatch::{transform_image, transform_labels};

/// The spline order of an interpolation, for images (`Label` counts as linear).
///
/// ```
/// use voxflow_geometry::resample::Order;
/// assert_eq!(Order::from_scipy(3)?, Order::Cubic);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// scipy order 0.
    Nearest,
    /// scipy order 1.
    Linear,
    /// scipy order 3 (cubic B-spline, on scipy's prefiltered coefficients).
    Cubic,
}

impl Order {
    /// The order an interpolation resamples images with.
    #[must_use]
    pub(crate) fn of(interpolation: Interpolation) -> Self {
        match interpolation {
            Interpolation::Nearest => Order::Nearest,
            Interpolation::Linear | Interpolation::Label => Order::Linear,
            Interpolation::Cubic => Order::Cubic,
        }
    }

    /// From scipy's `order` (0, 1 or 3): the one parser of scipy orders, for every op that
    /// takes one.
    ///
    /// ```
    /// use voxflow_geometry::resample::Order;
    /// assert_eq!(Order::from_scipy(0)?, Order::Nearest);
    /// assert_eq!(Order::from_scipy(1)?, Order::Linear);
    /// assert!(Order::from_scipy(2).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_scipy(order: u8) -> Result<Self, UnsupportedOrder> {
        match order {
            0 => Ok(Order::Nearest),
            1 => Ok(Order::Linear),
            3 => Ok(Order::Cubic),
            _ => Err(UnsupportedOrder(order)),
        }
    }
}

/// A scipy spline order the resampling core does not have (it has 0, 1 and 3).
///
/// ```
/// use voxflow_geometry::resample::{Order, UnsupportedOrder};
/// assert_eq!(Order::from_scipy(5), Err(UnsupportedOrder(5)));
/// assert_eq!(UnsupportedOrder(5).to_string(), "5: scipy orders 0, 1 and 3 are supported");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}: scipy orders 0, 1 and 3 are supported")]
pub struct UnsupportedOrder(pub u8);

/// The resolution [`snap_voxel_matrix`] rounds to: 2^-20 of a voxel.
const SNAP_GRID: f64 = (1u64 << 20) as f64;

/// A voxel matrix with its rounding noise removed: an entry within 1e-11 (relative) of a
/// multiple of 2^-20 becomes that multiple. A matrix composed from an oblique affine and its
/// inverse carries ~1e-15 of rounding, so an identity comes out as `1 - 1e-16` on the diagonal
/// and `1e-13` elsewhere; snapped, identities, integer shifts, flips and zooms by simple
/// ratios are exact again, so they are recognised (and integer coordinates stay integers,
/// which decides order-0 rounding ties exactly as on an axis-aligned volume). Any other entry
/// moves by at most 1e-11 of its size, far below what interpolation can show.
#[must_use]
pub(crate) fn snap_voxel_matrix(m: &Matrix4<f64>) -> Matrix4<f64> {
    m.map(|v| {
        let snapped = (v * SNAP_GRID).round() / SNAP_GRID;
        if (v - snapped).abs() <= 1e-11 * v.abs().max(1.0) { snapped } else { v }
    })
}

/// Resamples every frame of a volume; the output has `spec.affine` and `spec.shape`. Label
/// maps keep their type and use nearest unless `spec.interpolation` is `Label`.
///
/// ```
/// use voxflow_core::{Affine, BoundaryMode, Fill, Interpolation, ResampleSpec, Volume};
/// use voxflow_geometry::resample::resample_volume;
/// let data = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i * j + k) as f32);
/// let volume = Volume::image3(data, Affine::identity());
/// let (linear, constant) = (Interpolation::Linear, BoundaryMode::Constant);
/// let mut spec = ResampleSpec::identity(&volume, linear, constant, Fill::Value(0.0));
/// assert_eq!(resample_volume(&volume, &spec)?, volume); // onto its own grid: unchanged
/// spec.shape = [2, 2, 2]; // the first 2x2x2 voxels
/// assert_eq!(resample_volume(&volume, &spec)?.image()?[[1, 1, 1, 0]], 2.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample_volume(volume: &Volume, spec: &ResampleSpec) -> Result<Volume, GeometryError> {
    check_spec(spec)?;
    let [.., frames] = volume.shape4();
    voxflow_core::memory::check_buffer(&[spec.shape[0], spec.shape[1], spec.shape[2], frames], 4)
        .map_err(|e| GeometryError::param("shape", e.to_string()))?;
    // A chain that composes to the identity on the same grid (within rounding) moves nothing:
    // the voxels are copied as they are, whatever the interpolation.
    if spec.field.is_none()
        && spec.shape == volume.shape3()
        && snap_voxel_matrix(&spec.out_to_in) == Matrix4::identity()
    {
        return Ok(Volume {
            voxels: volume.voxels.clone(),
            affine: spec.affine,
            stored_dtype: volume.stored_dtype,
        });
    }
    let voxels = match &volume.voxels {
        Voxels::Image(data) => {
            let cval = match spec.fill {
                Fill::Value(v) => v,
                Fill::Rule(FillRule::Minimum) => finite_min(data.iter().copied()),
            };
            let order = Order::of(spec.interpolation);
            let frames: Vec<Array3<f32>> = data
                .axis_iter(ndarray::Axis(3))
                .map(|frame| {
                    transform_image(
                        frame,
                        &spec.out_to_in,
                        spec.field.as_deref(),
                        spec.shape,
                        order,
                        spec.mode,
                        cval,
                    )
                })
                .collect();
            Voxels::Image(stack_frames(&frames))
        }
        Voxels::Label(labels) => Voxels::Label(resample_label_array(labels, spec)?),
    };
    Ok(Volume { voxels, affine: spec.affine, stored_dtype: volume.stored_dtype })
}

fn resample_label_array(labels: &LabelArray, spec: &ResampleSpec) -> Result<LabelArray, GeometryError> {
    Ok(map_labels!(labels, |data: T| {
        let fill: T = match spec.fill {
            Fill::Value(v) => {
                if v.fract() != 0.0 || !v.is_finite() {
                    return Err(GeometryError::param("label_fill", format!("{v} is not an integer label")));
                }
                T::from_i128(v as i128).ok_or_else(|| {
                    GeometryError::param(
                        "label_fill",
                        format!("{v} does not fit the label type {}", T::DTYPE),
                    )
                })?
            }
            Fill::Rule(FillRule::Minimum) => data.iter().copied().min().unwrap_or_default(),
        };
        let frames: Vec<Array3<T>> = data
            .axis_iter(ndarray::Axis(3))
            .map(|frame| {
                transform_labels(
                    frame,
                    &spec.out_to_in,
                    spec.field.as_deref(),
                    spec.shape,
                    spec.interpolation,
                    spec.mode,
                    fill,
                )
            })
            .collect();
        stack_frames(&frames)
    }))
}

fn check_spec(spec: &ResampleSpec) -> Result<(), GeometryError> {
    if spec.shape.contains(&0) {
        return Err(GeometryError::param(
            "shape",
            format!("output shape {:?} has an empty axis", spec.shape),
        ));
    }
    if spec.out_to_in.iter().any(|v| !v.is_finite()) {
        return Err(GeometryError::param("matrix", "the voxel matrix has non-finite entries"));
    }
    if let Some(field) = &spec.field
        && field.shape() != spec.shape
    {
        return Err(GeometryError::param(
            "field",
            format!("displacement field grid {:?} is not the output grid {:?}", field.shape(), spec.shape),
        ));
    }
    Ok(())
}

/// The smallest non-NaN value (0 for an empty or all-NaN input).
fn finite_min(values: impl Iterator<Item = f32>) -> f64 {
    let min = values.filter(|v| !v.is_nan()).fold(f32::INFINITY, f32::min);
    if min.is_finite() || min == f32::NEG_INFINITY { f64::from(min) } else { 0.0 }
}
