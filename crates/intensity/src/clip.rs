//! `clip`: clips intensities to `[min, max]`, as `numpy.clip(x, min, max)`.
//!
//! ```json
//! {"name": "clipped", "op": "clip", "params": {"min": 10, "max": 240}, "inputs": {"volume": "image"}}
//! ```
//! NaN voxels stay NaN (as numpy). Useful for fixed CT ranges (e.g. -1000..1000 HU).

use crate::frame::map_voxels;
use crate::node::{IMAGE_PORTS, map_image_voxels, take_image};
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `clip`.
///
/// ```
/// use voxflow_intensity::clip::Clip;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let clipped = Clip { min: 3.0, max: 10.0 }.apply(&volume)?;
/// assert!(clipped.image()?.iter().all(|&v| (3.0..=10.0).contains(&v)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Clip {
    /// Lower bound (no default). Use `-inf`-like large values to clip one side only.
    pub min: f64,
    /// Upper bound (no default); must be `>= min`.
    pub max: f64,
}

/// No clipping (the widest bounds, `f64::MIN..=f64::MAX`): set `min` and `max`.
impl Default for Clip {
    fn default() -> Self {
        Clip { min: f64::MIN, max: f64::MAX }
    }
}

impl Clip {
    /// Clips an image to `[min, max]`: the `clip` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::clip::Clip;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let unchanged = Clip::default().apply(&volume)?;
    /// assert_eq!(unchanged.image()?, volume.image()?);
    /// let upper = Clip { max: 5.0, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(upper.image()?.fold(f32::MIN, |a, &b| a.max(b)), 5.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// `numpy.clip(input, min, max)` for an f32 frame. The bounds are rounded to f32 first, which
/// gives exactly numpy's result for f64 bounds once it is cast back to f32. NaN stays NaN.
/// `min > max` or a NaN bound is the caller's error ([`Clip::validate`](Op::validate) rejects it);
/// here it clips to `max` like numpy.
///
/// ```
/// let frame = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
/// let clipped = voxflow_intensity::clip(frame.view(), 2.0, 6.0);
/// assert_eq!(clipped[[0, 0, 0]], 2.0);
/// assert_eq!(clipped[[3, 3, 3]], 6.0);
/// assert_eq!(clipped[[1, 1, 2]], 4.0);
/// ```
#[must_use]
pub fn clip(input: ArrayView3<'_, f32>, min: f64, max: f64) -> Array3<f32> {
    let (lo, hi) = (min as f32, max as f32);
    map_voxels(input, move |v| clip_one(v, lo, hi))
}

#[inline]
pub(crate) fn clip_one(v: f32, lo: f32, hi: f32) -> f32 {
    // numpy: minimum(maximum(x, lo), hi); comparisons are false for NaN, which passes through.
    let v = if v < lo { lo } else { v };
    if v > hi { hi } else { v }
}

pub(crate) fn check_bounds(min: f64, max: f64) -> Result<(), OpError> {
    if min.is_nan() {
        return Err(OpError::param("min", "must be a number, got NaN"));
    }
    if max.is_nan() {
        return Err(OpError::param("max", "must be a number, got NaN"));
    }
    if min > max {
        return Err(OpError::param("max", format!("must be >= min ({min}), got {max}")));
    }
    Ok(())
}

voxflow_core::op_doc!(
    "clip",
    Clip,
    "Clips image intensities to `[min, max]`; intensity only, the affine is kept.",
    r#"{"min": 0.0, "max": 1.0}"#
);

#[typetag::serde(name = "clip")]
impl Op for Clip {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        check_bounds(self.min, self.max)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        let (lo, hi) = (self.min as f32, self.max as f32);
        map_image_voxels(volume, |_, _| Ok(move |v| clip_one(v, lo, hi)))
    }
}
