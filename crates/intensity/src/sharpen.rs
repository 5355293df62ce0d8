//! `sharpen` / `random_sharpen`: unsharp masking by two Gaussian blurs.
//!
//! ```json
//! {"name": "s", "op": "random_sharpen", "params": {"alpha": [10, 30], "p": 0.1}},
//! {"name": "image_s", "op": "apply", "inputs": {"volume": "image", "draw": "s"}}
//! ```
//!
//! The definition is MONAI's `GaussianSharpen(sigma1=3.0, sigma2=1.0, alpha=30.0)`
//! (`monai/transforms/intensity/array.py`, after the scipy-lectures example it cites):
//!
//! ```text
//! blurred_f = gaussian_filter(img, sigma1)
//! filter_blurred_f = gaussian_filter(blurred_f, sigma2)
//! img = blurred_f + alpha * (blurred_f - filter_blurred_f)
//! ```
//!
//! with voxflow's Gaussian filter, the one `blur` uses ([`gaussian_filter`]: exactly
//! `scipy.ndimage.gaussian_filter(x, sigma, truncate=4.0, mode="reflect")`, the filter of the
//! scipy-lectures example), and, as for `blur`, the sigmas in **millimetres**, converted to
//! voxels per axis by the affine's voxel spacing (on the 1 mm isotropic grids MONAI pipelines
//! usually resample to, millimetres are MONAI's voxels). The last line is computed in f64 from
//! the two f32 blurs and rounded to f32.
//!
//! Where this is not MONAI's bytes: MONAI's `GaussianFilter` (`approx="erf"`) integrates the
//! Gaussian over each voxel (`0.5·(erf((x+½)/σ√2) - erf((x-½)/σ√2))`, not renormalised, radius
//! `int(max(4σ, 0.5) + 0.5)`) and pads with zeros, where scipy samples `exp(-x²/2σ²)`,
//! normalises to sum 1 and reflects at the border. The two kernels differ by a few percent for
//! σ near 1 voxel, and MONAI darkens the border band (zero padding); both filters are Gaussian
//! smoothing of the same width, and the sharpening formula is the same.
//!
//! `random_sharpen` is MONAI's `RandGaussianSharpen`: each axis' `sigma1` uniform in `sigma1`
//! (default `[0.5, 1]`), then each axis' `sigma2` uniform in `sigma2` when it is a range, or
//! uniform in `[sigma2, sigma1 of that axis]` when it is one number (default 0.5), then `alpha`
//! uniform in `alpha` (default `[10, 30]`), in that order. MONAI draws separate ranges per axis
//! (`sigma1_x`, `sigma1_y`, ...); here one range serves the three axes, each drawn on its own.

use crate::blur::{Sigma, check_kernel, default_truncate, gaussian_filter, sigma_voxels_of};
use crate::frame::CHUNK;
use crate::node::{IMAGE_PORTS, map_image, take_image};
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_nonnegative_range, check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `sharpen` (also what `random_sharpen` draws).
///
/// ```
/// use voxflow_intensity::blur::Sigma;
/// use voxflow_intensity::sharpen::Sharpen;
/// # let step = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, _, _)| if i < 4 { 0.0 } else { 1.0 });
/// # let volume = voxflow_core::Volume::image3(step, voxflow_core::Affine::identity());
/// let sharpen = Sharpen { sigma1_mm: Sigma::Isotropic(0.0), alpha: 1.0, ..Default::default() };
/// let sharper = sharpen.apply(&volume)?;
/// let image = sharper.image()?;
/// assert!(image[[3, 0, 0, 0]] < 0.0 && image[[4, 0, 0, 0]] > 1.0); // the edge overshoots
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sharpen {
    /// Standard deviation of the first blur in mm: one number or `[x, y, z]`, >= 0 (0 leaves
    /// that axis unblurred). Default 3 (MONAI's `sigma1`, in voxels there).
    #[serde(default = "default_sigma1")]
    pub sigma1_mm: Sigma,
    /// Standard deviation of the second blur (of the first blur's result) in mm, >= 0.
    /// Default 1 (MONAI's `sigma2`).
    #[serde(default = "default_sigma2")]
    pub sigma2_mm: Sigma,
    /// Weight of the detail added back, finite. Default 30 (MONAI's).
    #[serde(default = "default_alpha")]
    pub alpha: f64,
    /// Kernel radius in standard deviations (scipy's `truncate`); default 4.
    #[serde(default = "default_truncate")]
    pub truncate: f64,
}

/// The graph's defaults, MONAI's `GaussianSharpen()`: sigma1 3 mm, sigma2 1 mm, alpha 30,
/// truncate 4.
impl Default for Sharpen {
    fn default() -> Self {
        Sharpen {
            sigma1_mm: default_sigma1(),
            sigma2_mm: default_sigma2(),
            alpha: default_alpha(),
            truncate: default_truncate(),
        }
    }
}

impl Sharpen {
    /// Sharpens an image (MONAI's `GaussianSharpen`, sigmas in mm): the `sharpen` node on
    /// `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::sharpen::Sharpen;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_elem((8, 8, 8), 3.0), voxflow_core::Affine::identity());
    /// let sharpened = Sharpen::default().apply(&volume)?;
    /// assert!(sharpened.image()?.iter().all(|v| (v - 3.0).abs() < 1e-4)); // nothing to sharpen
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// `sigma2` of `random_sharpen`: a range, or a lower bound whose upper bound is the drawn
/// `sigma1` of the same axis (MONAI's `sigma2_x` given as one number).
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::sharpen::{RandomSharpen, Sigma2};
/// let random = RandomSharpen { sigma2: Sigma2::Range([0.1, 0.2]), ..Default::default() };
/// let drawn = random.sample(&mut voxflow_core::seed::Rng::seed_from_u64(7));
/// assert!(drawn.sigma2_mm.per_axis().iter().all(|s| (0.1..=0.2).contains(s)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Sigma2 {
    /// Uniform in `[low, the axis' drawn sigma1]`; `low` at most `sigma1[0]`.
    UpToSigma1(f64),
    /// Uniform in `[low, high]`.
    Range([f64; 2]),
}

/// Parameters of `random_sharpen`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::sharpen::RandomSharpen;
/// let drawn = RandomSharpen::default().sample(&mut voxflow_core::seed::Rng::seed_from_u64(7));
/// let (s1, s2) = (drawn.sigma1_mm.per_axis(), drawn.sigma2_mm.per_axis());
/// assert!((0..3).all(|a| (0.5..=1.0).contains(&s1[a]) && (0.5..=s1[a]).contains(&s2[a])));
/// assert!((10.0..=30.0).contains(&drawn.alpha));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomSharpen {
    /// Range of each axis' first sigma in mm, >= 0; default `[0.5, 1]` (MONAI's).
    #[serde(default = "default_sigma1_range")]
    pub sigma1: [f64; 2],
    /// Range of each axis' second sigma in mm, or one number `low` for `[low, that axis'
    /// sigma1]`; default 0.5 (MONAI's).
    #[serde(default = "default_sigma2_range")]
    pub sigma2: Sigma2,
    /// Range of `alpha`; default `[10, 30]` (MONAI's).
    #[serde(default = "default_alpha_range")]
    pub alpha: [f64; 2],
    /// Probability of sharpening; otherwise the draw leaves the image unchanged. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults, MONAI's `RandGaussianSharpen()`: sigma1 in `[0.5, 1]` mm, sigma2
/// from 0.5 up to sigma1, alpha in `[10, 30]`, always applied.
impl Default for RandomSharpen {
    fn default() -> Self {
        RandomSharpen {
            sigma1: default_sigma1_range(),
            sigma2: default_sigma2_range(),
            alpha: default_alpha_range(),
            p: default_p(),
        }
    }
}

fn default_sigma1() -> Sigma {
    Sigma::Isotropic(3.0)
}
fn default_sigma2() -> Sigma {
    Sigma::Isotropic(1.0)
}
fn default_alpha() -> f64 {
    30.0
}
fn default_sigma1_range() -> [f64; 2] {
    [0.5, 1.0]
}
fn default_sigma2_range() -> Sigma2 {
    Sigma2::UpToSigma1(0.5)
}
fn default_alpha_range() -> [f64; 2] {
    [10.0, 30.0]
}

/// `b + alpha · (b - g(b, sigma2))` with `b = g(input, sigma1)`, `g` the Gaussian filter of
/// [`gaussian_filter`] (sigmas in voxels).
///
/// ```
/// let frame = ndarray::Array3::from_shape_fn((8, 8, 8), |(i, _, _)| if i < 4 { 0.0f32 } else { 1.0 });
/// let edge = voxflow_intensity::sharpen::sharpen(frame.view(), [0.0; 3], [1.0, 0.0, 0.0], 1.0, 4.0);
/// assert!(edge[[3, 0, 0]] < 0.0 && edge[[4, 0, 0]] > 1.0); // overshoot on both sides of the edge
/// ```
#[must_use]
pub fn sharpen(
    input: ArrayView3<'_, f32>,
    sigma1_voxels: [f64; 3],
    sigma2_voxels: [f64; 3],
    alpha: f64,
    truncate: f64,
) -> Array3<f32> {
    let blurred = gaussian_filter(input, sigma1_voxels, truncate);
    // The second blur's buffer becomes the output.
    let mut out = gaussian_filter(blurred.view(), sigma2_voxels, truncate);
    let b = blurred.as_slice_memory_order().expect("a kernel's output is contiguous");
    let o = out.as_slice_memory_order_mut().expect("a kernel's output is contiguous");
    o.par_chunks_mut(CHUNK).zip(b.par_chunks(CHUNK)).for_each(|(o, b)| {
        for (o, &b) in o.iter_mut().zip(b) {
            let b = f64::from(b);
            *o = (b + alpha * (b - f64::from(*o))) as f32;
        }
    });
    out
}

fn check_sigma(param: &'static str, sigma: Sigma) -> Result<(), OpError> {
    match sigma.per_axis().iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
        Some(s) => Err(OpError::param(param, format!("must be finite and >= 0, got {s}"))),
        None => Ok(()),
    }
}

voxflow_core::op_doc!(
    "sharpen",
    Sharpen,
    "Sharpens an image as MONAI's GaussianSharpen: b = blur(x, sigma1_mm), b + alpha·(b - blur(b, sigma2_mm)), with blur's Gaussian filter; intensity only.",
    r#"{"sigma1_mm": 3.0, "sigma2_mm": 1.0, "alpha": 30}"#
);

#[typetag::serde(name = "sharpen")]
impl Op for Sharpen {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        check_sigma("sigma1_mm", self.sigma1_mm)?;
        check_sigma("sigma2_mm", self.sigma2_mm)?;
        if !self.alpha.is_finite() {
            return Err(OpError::param("alpha", format!("must be finite, got {}", self.alpha)));
        }
        if !(self.truncate.is_finite() && self.truncate > 0.0) {
            return Err(OpError::param("truncate", format!("must be finite and > 0, got {}", self.truncate)));
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        // alpha 0 with no first blur is the identity (the neutral draw).
        if self.alpha == 0.0 && self.sigma1_mm.per_axis().iter().all(|&s| s == 0.0) {
            return Ok(Value::Volume(volume));
        }
        let s1 = sigma_voxels_of("sigma1_mm", self.sigma1_mm.per_axis(), volume.spacing())?;
        let s2 = sigma_voxels_of("sigma2_mm", self.sigma2_mm.per_axis(), volume.spacing())?;
        check_kernel("sigma1_mm", s1, self.truncate, volume.shape3())?;
        check_kernel("sigma2_mm", s2, self.truncate, volume.shape3())?;
        map_image(&volume, |_, frame| Ok(sharpen(frame, s1, s2, self.alpha, self.truncate)))
    }
}

impl RandomSharpen {
    /// Draws the concrete op: the three `sigma1`, the three `sigma2`, then `alpha` (MONAI's
    /// order); apply it with [`Sharpen::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::sharpen::RandomSharpen;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let drawn = RandomSharpen::default().sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, RandomSharpen::default().sample(&mut Rng::seed_from_u64(3)));
    /// let skipped = RandomSharpen { p: 0.0, ..Default::default() }.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(skipped.apply(&volume)?, volume); // a skipped draw is the identity
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Sharpen {
        if !happens(rng, self.p) {
            return Sharpen {
                sigma1_mm: Sigma::Isotropic(0.0),
                sigma2_mm: Sigma::Isotropic(0.0),
                alpha: 0.0,
                truncate: default_truncate(),
            };
        }
        let s1: [f64; 3] = std::array::from_fn(|_| uniform(rng, self.sigma1));
        let s2: [f64; 3] = std::array::from_fn(|a| match self.sigma2 {
            Sigma2::UpToSigma1(low) => uniform(rng, [low, s1[a]]),
            Sigma2::Range(range) => uniform(rng, range),
        });
        let alpha = uniform(rng, self.alpha);
        Sharpen {
            sigma1_mm: Sigma::PerAxis(s1),
            sigma2_mm: Sigma::PerAxis(s2),
            alpha,
            truncate: default_truncate(),
        }
    }
}

voxflow_core::op_doc!(
    "random_sharpen",
    RandomSharpen,
    "Draws a `sharpen` as MONAI's RandGaussianSharpen (sigma1 per axis in `sigma1` mm, sigma2 in `sigma2` or up to sigma1, alpha in `alpha`), with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomSharpen {
    type Drawn = Sharpen;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_nonnegative_range("sigma1", self.sigma1)?;
        match self.sigma2 {
            Sigma2::Range(range) => check_nonnegative_range("sigma2", range)?,
            Sigma2::UpToSigma1(low) => {
                if !(low.is_finite() && low >= 0.0 && low <= self.sigma1[0]) {
                    return Err(OpError::param(
                        "sigma2",
                        format!(
                            "one number is the low end of [sigma2, sigma1]: it must be >= 0 and at most sigma1's low end {}, got {low}",
                            self.sigma1[0]
                        ),
                    ));
                }
            }
        }
        check_range("alpha", self.alpha)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Sharpen, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_sharpen")]
impl Op for RandomSharpen {
    voxflow_core::random_op_node!(RandomSharpen);
}
