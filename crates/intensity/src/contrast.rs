//! `contrast` / `random_contrast`: contrast about the mean, `y = (x - mean) · factor + mean`,
//! optionally clipped to the frame's original `[min, max]`.
//!
//! ```json
//! {"name": "c", "op": "random_contrast", "params": {"factor": [0.75, 1.25], "p": 0.15}},
//! {"name": "image_c", "op": "apply", "inputs": {"volume": "image", "draw": "c"}}
//! ```
//!
//! The definition is batchgenerators' `augment_contrast(data_sample, contrast_range=(0.75,
//! 1.25), preserve_range=True, per_channel=False)`
//! (`batchgenerators/augmentations/color_augmentations.py`, nnU-Net's
//! `ContrastAugmentationTransform`): per frame (a channel), `mn = x.mean()`, `x = (x - mn) ·
//! factor + mn`, and with `preserve_range` values below the frame's minimum or above its
//! maximum are set to them. Computed in f64 and rounded to f32; the mean, min and max are over
//! the frame's finite voxels (numpy's would be NaN with a NaN voxel; NaN voxels stay NaN).
//!
//! Unlike `brightness_contrast` (`x · multiplier + shift`, which scales about 0), the mean is
//! kept: only the spread around it changes.
//!
//! `random_contrast` draws the factor as batchgenerators does: with probability 1/2, and only
//! when `factor[0] < 1`, uniform in `[factor[0], 1]`, otherwise uniform between
//! `max(factor[0], 1)` and `factor[1]` (so a range around 1 is reduced and enlarged equally
//! often). One factor serves every frame (`per_channel=False`).

use crate::frame::{fortran_slice, map_voxels};
use crate::moments::moments;
use crate::node::{IMAGE_PORTS, map_image_voxels, take_image};
use crate::region::FlatRegion;
use ndarray::{Array3, ArrayView3};
use rand::RngExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `contrast` (also what `random_contrast` draws).
///
/// ```
/// use voxflow_intensity::contrast::Contrast;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let flat = Contrast { factor: 0.0, ..Default::default() }.apply(&volume)?;
/// assert!(flat.image()?.iter().all(|&v| v == 10.5)); // every voxel becomes the mean
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Contrast {
    /// Factor the distance to the mean is multiplied by (finite, >= 0). 1 leaves the image
    /// unchanged. Required.
    pub factor: f64,
    /// Clip the result to the frame's original `[min, max]` (batchgenerators'
    /// `preserve_range`). Default true, batchgenerators' default.
    #[serde(default = "yes")]
    pub preserve_range: bool,
}

/// Factor 1 (the identity), range preserved: set `factor`.
impl Default for Contrast {
    fn default() -> Self {
        Contrast { factor: 1.0, preserve_range: yes() }
    }
}

impl Contrast {
    /// Scales an image about each frame's mean: the `contrast` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::contrast::Contrast;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(Contrast::default().apply(&volume)?.image()?, volume.image()?);
    /// let stronger = Contrast { factor: 2.0, ..Default::default() }.apply(&volume)?;
    /// let range = |v: &voxflow_core::Volume| v.image().map(|a| a.fold((f32::MAX, f32::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x))));
    /// assert_eq!(range(&stronger)?, range(&volume)?); // clipped to the original range
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_contrast`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::contrast::RandomContrast;
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let drawn = RandomContrast::default().sample(&mut rng);
/// assert!((0.75..=1.25).contains(&drawn.factor) && drawn.preserve_range);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomContrast {
    /// Range of the factor (batchgenerators' `contrast_range`), >= 0; default `[0.75, 1.25]`.
    #[serde(default = "default_factor")]
    pub factor: [f64; 2],
    /// See [`Contrast::preserve_range`]. Default true.
    #[serde(default = "yes")]
    pub preserve_range: bool,
    /// Probability of applying it; otherwise factor 1. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: factor in `[0.75, 1.25]` (batchgenerators), range preserved, always
/// applied.
impl Default for RandomContrast {
    fn default() -> Self {
        RandomContrast { factor: default_factor(), preserve_range: yes(), p: default_p() }
    }
}

fn yes() -> bool {
    true
}
fn default_factor() -> [f64; 2] {
    [0.75, 1.25]
}

/// The per-voxel map of a frame: `(x - mean) · factor + mean`, clipped to `[min, max]` with
/// `preserve_range`. `None` when the frame has no finite voxel (it is left as it is).
fn contrast_fn(
    frame: ArrayView3<'_, f32>,
    factor: f64,
    preserve_range: bool,
) -> Option<impl Fn(f32) -> f32 + Sync + use<>> {
    let m = moments(&fortran_slice(frame), &FlatRegion::All, preserve_range);
    if m.n == 0 {
        return None;
    }
    let (mean, lo, hi) = (m.mean, m.min, m.max);
    Some(move |v: f32| {
        let y = (f64::from(v) - mean) * factor + mean;
        let y = if preserve_range && y < lo {
            lo
        } else if preserve_range && y > hi {
            hi
        } else {
            y
        };
        y as f32
    })
}

/// batchgenerators' `augment_contrast` of one frame (see the module).
///
/// ```
/// let frame = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, _, _)| i as f32); // mean 1.5
/// let out = voxflow_intensity::contrast::contrast(frame.view(), 0.5, true);
/// assert_eq!((out[[0, 0, 0]], out[[3, 0, 0]]), (0.75, 2.25));
/// ```
#[must_use]
pub fn contrast(input: ArrayView3<'_, f32>, factor: f64, preserve_range: bool) -> Array3<f32> {
    match contrast_fn(input, factor, preserve_range) {
        Some(f) => map_voxels(input, f),
        None => input.to_owned(),
    }
}

fn check_factor(factor: f64) -> Result<(), OpError> {
    if factor.is_finite() && factor >= 0.0 {
        Ok(())
    } else {
        Err(OpError::param("factor", format!("must be finite and >= 0, got {factor}")))
    }
}

voxflow_core::op_doc!(
    "contrast",
    Contrast,
    "Scales image intensities about the frame's mean by `factor`, clipped to the original range with `preserve_range` (batchgenerators' augment_contrast); intensity only.",
    r#"{"factor": 1.2}"#
);

#[typetag::serde(name = "contrast")]
impl Op for Contrast {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        check_factor(self.factor)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        if self.factor == 1.0 {
            return Ok(Value::Volume(volume));
        }
        let (factor, preserve_range) = (self.factor, self.preserve_range);
        map_image_voxels(volume, |_, frame| {
            let f = contrast_fn(frame, factor, preserve_range);
            Ok(move |v: f32| f.as_ref().map_or(v, |f| f(v)))
        })
    }
}

impl RandomContrast {
    /// Draws the concrete op (batchgenerators' draw of the factor; see the module); apply it
    /// with [`Contrast::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::contrast::RandomContrast;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomContrast { factor: [0.5, 1.5], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?.shape3(), volume.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Contrast {
        let factor = if happens(rng, self.p) {
            let [lo, hi] = self.factor;
            if rng.random::<f64>() < 0.5 && lo < 1.0 {
                uniform(rng, [lo, 1.0])
            } else {
                // numpy's uniform(low, high) with low > high (a range below 1) draws in
                // [high, low].
                let low = lo.max(1.0);
                uniform(rng, [low.min(hi), low.max(hi)])
            }
        } else {
            1.0
        };
        Contrast { factor, preserve_range: self.preserve_range }
    }
}

voxflow_core::op_doc!(
    "random_contrast",
    RandomContrast,
    "Draws a `contrast` with its factor in `factor` as batchgenerators draws it (below or above 1 with equal odds), with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomContrast {
    type Drawn = Contrast;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("factor", self.factor)?;
        if self.factor[0] < 0.0 {
            return Err(OpError::param("factor", format!("must be >= 0, got {:?}", self.factor)));
        }
        Ok(())
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Contrast, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_contrast")]
impl Op for RandomContrast {
    voxflow_core::random_op_node!(RandomContrast);
}
