//! `normalize`: z-score or min-max normalisation, with statistics over all voxels, the
//! non-zero voxels, or a mask.
//!
//! ```json
//! {"name": "norm", "op": "normalize", "params": {"mode": "zscore"}, "inputs": {"volume": "image"}}
//! {"name": "norm", "op": "normalize", "params": {"mode": "minmax", "range": [-1, 1]}, "inputs": {"volume": "image"}}
//! {"name": "norm", "op": "normalize", "params": {"over": "mask", "labels": [1, 2]},
//!  "inputs": {"volume": "image", "mask": "segmentation"}}
//! ```
//!
//! * `zscore`: `(x - mean) / std`, mean and std of the region's voxels. `std` is numpy's
//!   `std(ddof=ddof)`: `ddof = 0` (default) is the population standard deviation, numpy's
//!   default; `ddof = 1` the sample one (torch's default).
//! * `minmax`: `low + (x - min) · (high - low) / (max - min)` with `range = [low, high]`.
//!
//! Every voxel is transformed (as the tutorial and numpy: `(x - x[x != 0].mean()) / ...`),
//! not only the region's. The default region is `nonzero` for `zscore` (the tutorial's "mean"
//! normalisation, nnU-Net's MRI scheme) and `all` for `minmax` (the tutorial's "max").
//!
//! Never NaN from a division: when the std (or `max - min`) is zero, or the region holds at
//! most `ddof` voxels, the divisor is 1 (MONAI's convention), so a constant volume becomes
//! zeros. Statistics accumulate in f64 over fixed chunks combined in order (Chan et al.), so
//! the result is the same for any number of threads.
//!
//! Non-finite voxels (NaN, ±inf): with `nan: "error"` (default) the op fails and says how
//! many; with `nan: {"replace": v}` they are left out of the statistics and set to `v` in the
//! output.

use crate::IntensityError;
use crate::frame::{fortran_slice, map_voxels, shape3};
use crate::moments::{Moments, moments};
use crate::node::{IMAGE_MASK_PORTS, map_image_voxels, region_for, take_image, take_mask};
use crate::region::{FlatRegion, Over, Region};
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, Op, OpError, Port, RunContext, Value, Volume};

/// How to normalise.
///
/// ```
/// use voxflow_intensity::normalize::{Normalize, NormalizeMode};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let unit = Normalize { mode: NormalizeMode::Minmax, ..Default::default() }.apply(&volume)?;
/// let image = unit.image()?;
/// assert_eq!((image[[0, 0, 0, 0]], image[[7, 7, 7, 0]]), (0.0, 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NormalizeMode {
    /// Zero mean, unit standard deviation over the region.
    #[default]
    Zscore,
    /// The region's minimum to `range[0]`, its maximum to `range[1]`.
    Minmax,
}

/// What to do with NaN and infinite voxels.
///
/// ```
/// use voxflow_intensity::normalize::{NanPolicy, Normalize};
/// # let mut volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// # if let voxflow_core::Voxels::Image(a) = &mut volume.voxels { a[[1, 2, 3, 0]] = f32::NAN; }
/// assert!(Normalize::default().apply(&volume).is_err()); // NanPolicy::Error
/// let replaced = Normalize { nan: NanPolicy::Replace(0.0), ..Default::default() }.apply(&volume)?;
/// assert_eq!(replaced.image()?[[1, 2, 3, 0]], 0.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum NanPolicy {
    /// Fail, naming how many there are (default).
    #[default]
    Error,
    /// Leave them out of the statistics and write this value in their place.
    Replace(f32),
}

/// Parameters of `normalize`.
///
/// ```
/// use voxflow_intensity::Over;
/// use voxflow_intensity::normalize::Normalize;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let normalized = Normalize { over: Some(Over::All), ..Default::default() }.apply(&volume)?;
/// let image = normalized.image()?;
/// assert!(image.mean().unwrap().abs() < 1e-4 && (image.std(0.0) - 1.0).abs() < 1e-4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    /// `zscore` (default) or `minmax`.
    #[serde(default)]
    pub mode: NormalizeMode,
    /// Voxels the statistics are computed over: `all`, `nonzero` or `mask` (the `mask`
    /// input). Default: `nonzero` for `zscore`, `all` for `minmax`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over: Option<Over>,
    /// Shorthand kept for the scipy reference manifests: `true` is `over: nonzero`, `false`
    /// is `over: all`. Do not combine with a different `over`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonzero: Option<bool>,
    /// With `over: mask`: the labels that make up the mask (default: every non-zero label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<i64>>,
    /// Delta degrees of freedom of the std (`zscore`): 0 (default, numpy's population std)
    /// or 1 (sample std).
    #[serde(default)]
    pub ddof: u32,
    /// `minmax` output range `[low, high]`; default `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 2]>,
    /// NaN/inf handling: `"error"` (default) or `{"replace": value}`.
    #[serde(default)]
    pub nan: NanPolicy,
}

impl Normalize {
    /// The region the statistics are computed over, with the defaults applied.
    ///
    /// ```
    /// use voxflow_intensity::Over;
    /// use voxflow_intensity::normalize::{Normalize, NormalizeMode};
    /// assert_eq!(Normalize::default().region_kind()?, Over::Nonzero);
    /// let minmax = Normalize { mode: NormalizeMode::Minmax, ..Default::default() };
    /// assert_eq!(minmax.region_kind()?, Over::All);
    /// # Ok::<(), voxflow_intensity::IntensityError>(())
    /// ```
    pub fn region_kind(&self) -> Result<Over, IntensityError> {
        let from_flag = self.nonzero.map(|nz| if nz { Over::Nonzero } else { Over::All });
        match (self.over, from_flag) {
            (Some(o), Some(f)) if o != f => Err(IntensityError::param(
                "nonzero",
                format!("conflicts with `over: {}`; give only `over`", o.name()),
            )),
            (Some(o), _) | (None, Some(o)) => Ok(o),
            (None, None) => Ok(match self.mode {
                NormalizeMode::Zscore => Over::Nonzero,
                NormalizeMode::Minmax => Over::All,
            }),
        }
    }

    /// The `minmax` output range.
    ///
    /// ```
    /// use voxflow_intensity::normalize::Normalize;
    /// assert_eq!(Normalize::default().output_range(), [0.0, 1.0]);
    /// assert_eq!(Normalize { range: Some([-1.0, 1.0]), ..Default::default() }.output_range(), [-1.0, 1.0]);
    /// ```
    #[must_use]
    pub fn output_range(&self) -> [f64; 2] {
        self.range.unwrap_or([0.0, 1.0])
    }

    /// Normalises an image: the `normalize` node on `volume`, in one call.
    ///
    /// Its statistics are over all voxels or the non-zero ones here: `over: mask` needs the
    /// `mask` input, which a graph or the facade's `voxflow::apply_with` connects.
    ///
    /// ```
    /// use voxflow_intensity::normalize::Normalize;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let normalized = Normalize::default().apply(&volume)?; // z-score over the non-zero voxels
    /// let image = normalized.image()?;
    /// let nonzero: Vec<f32> = image.iter().copied().skip(1).collect(); // voxel 0 is the only 0
    /// let mean = nonzero.iter().sum::<f32>() / nonzero.len() as f32;
    /// assert!(mean.abs() < 1e-4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }

    fn check(&self) -> Result<(), IntensityError> {
        self.region_kind()?;
        let [lo, hi] = self.output_range();
        if !lo.is_finite() || !hi.is_finite() || lo > hi {
            return Err(IntensityError::param(
                "range",
                format!("must be finite with low <= high, got {:?}", [lo, hi]),
            ));
        }
        if self.ddof > 1 {
            return Err(IntensityError::param("ddof", format!("must be 0 or 1, got {}", self.ddof)));
        }
        if let NanPolicy::Replace(v) = self.nan
            && !v.is_finite()
        {
            return Err(IntensityError::param("nan", format!("the replacement must be finite, got {v}")));
        }
        Ok(())
    }
}

/// Normalises a frame as `params` says. `mask` is the region when `params` says `over: mask`
/// (and must be `None` otherwise).
///
/// ```
/// use voxflow_intensity::normalize::{Normalize, NormalizeMode};
/// let frame = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, _, _)| i as f32);
/// let mask = frame.mapv(|v| v >= 2.0); // the voxels 2 and 3
/// let params = Normalize { mode: NormalizeMode::Minmax, over: Some(voxflow_intensity::Over::Mask), ..Default::default() };
/// let out = voxflow_intensity::normalize(frame.view(), &params, Some(mask.view()))?;
/// assert_eq!((out[[0, 0, 0]], out[[2, 0, 0]], out[[3, 0, 0]]), (-2.0, 0.0, 1.0));
/// # Ok::<(), voxflow_intensity::IntensityError>(())
/// ```
pub fn normalize(
    input: ArrayView3<'_, f32>,
    params: &Normalize,
    mask: Option<ArrayView3<'_, bool>>,
) -> Result<Array3<f32>, IntensityError> {
    params.check()?;
    let region = match (params.region_kind()?, mask) {
        (Over::All, None) => Region::All,
        (Over::Nonzero, None) => Region::Nonzero,
        (Over::Mask, Some(m)) => Region::Mask(m),
        (Over::Mask, None) => {
            return Err(IntensityError::Mask("`over` is \"mask\" but no mask was given".into()));
        }
        (_, Some(_)) => {
            return Err(IntensityError::Mask("a mask was given but `over` is not \"mask\"".into()));
        }
    };
    normalize_region(input, params, region)
}

fn normalize_region(
    input: ArrayView3<'_, f32>,
    params: &Normalize,
    region: Region<'_>,
) -> Result<Array3<f32>, IntensityError> {
    Ok(map_voxels(input, voxel_map(input, params, region)?))
}

/// The statistics of `input` over `region`, as the per-voxel function that normalises it.
/// Fails on non-finite voxels under `nan: "error"`.
fn voxel_map(
    input: ArrayView3<'_, f32>,
    params: &Normalize,
    region: Region<'_>,
) -> Result<impl Fn(f32) -> f32 + Sync + use<>, IntensityError> {
    let shape = shape3(&input);
    let flat_region = FlatRegion::new(region, shape)?;
    let data = fortran_slice(input);
    let m = moments(&data, &flat_region, params.mode == NormalizeMode::Minmax);
    let replace = match params.nan {
        NanPolicy::Error => {
            // The region's count covers every voxel except outside a mask.
            let count = if matches!(region, Region::Mask(_)) {
                moments(&data, &FlatRegion::All, false).nonfinite
            } else {
                m.nonfinite
            };
            if count > 0 {
                return Err(IntensityError::NonFinite { count });
            }
            None
        }
        NanPolicy::Replace(v) => Some(v),
    };
    let Output { offset, divisor, scale, low } = output_map(&m, params);
    // In f32 like numpy's `(x - mean) / std` on a float32 image (mean and std are float32
    // scalars there too); the statistics themselves are f64.
    Ok(move |v: f32| if v.is_finite() { (v - offset) / divisor * scale + low } else { replace.unwrap_or(v) })
}

/// The output is `(x - offset) / divisor · scale + low`, in f32.
struct Output {
    offset: f32,
    divisor: f32,
    scale: f32,
    low: f32,
}

fn output_map(m: &Moments, params: &Normalize) -> Output {
    let usable = |d: f64| if d > 0.0 && d.is_finite() && d as f32 > 0.0 { d } else { 1.0 };
    match params.mode {
        NormalizeMode::Zscore => {
            let mean = if m.n == 0 { 0.0 } else { m.mean };
            let std = m.variance(params.ddof).map_or(1.0, |v| usable(v.sqrt()));
            Output { offset: mean as f32, divisor: std as f32, scale: 1.0, low: 0.0 }
        }
        NormalizeMode::Minmax => {
            let [lo, hi] = params.output_range();
            let (min, range) = if m.n == 0 { (0.0, 1.0) } else { (m.min, usable(m.max - m.min)) };
            Output { offset: min as f32, divisor: range as f32, scale: (hi - lo) as f32, low: lo as f32 }
        }
    }
}

voxflow_core::op_doc!(
    "normalize",
    Normalize,
    "Normalises image intensities by z-score or min-max over all voxels, the non-zero ones or a mask; intensity only, the affine is kept.",
    "{}"
);

#[typetag::serde(name = "normalize")]
impl Op for Normalize {
    fn ports(&self) -> &'static [Port] {
        IMAGE_MASK_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(self.check()?)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let over = self.region_kind()?;
        let volume = take_image(&mut inputs)?;
        let mask = take_mask(&mut inputs, &volume, self.labels.as_deref())?;
        map_image_voxels(volume, |t, frame| voxel_map(frame, self, region_for(over, mask.as_ref(), t)?))
    }
}
