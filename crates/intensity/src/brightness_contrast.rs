//! `brightness_contrast` / `random_brightness_contrast`: `y = x · multiplier + shift`.
//!
//! ```json
//! {"name": "bc", "op": "random_brightness_contrast", "params": {"multiplier": [0.75, 1.25], "p": 0.15}},
//! {"name": "image_bc", "op": "apply", "inputs": {"volume": "image", "draw": "bc"}}
//! ```
//!
//! `multiplier` (alias `contrast`) scales intensities, `shift` (alias `brightness`) adds to
//! them, computed in f64 and rounded to f32. The random variant's default multiplier range
//! `[0.75, 1.25]` is nnU-Net's multiplicative brightness augmentation.

use crate::frame::map_voxels;
use crate::node::{IMAGE_PORTS, map_image_voxels, take_image};
use ndarray::{Array3, ArrayView3};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `brightness_contrast` (also what `random_brightness_contrast` draws).
///
/// ```
/// use voxflow_intensity::brightness_contrast::BrightnessContrast;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let brighter = BrightnessContrast { multiplier: 2.0, shift: 1.0 }.apply(&volume)?;
/// assert_eq!(brighter.image()?, &(volume.image()? * 2.0 + 1.0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BrightnessContrast {
    /// Factor the intensities are multiplied by; default 1.
    #[serde(default = "one", alias = "contrast")]
    pub multiplier: f64,
    /// Added after the multiplication; default 0.
    #[serde(default, alias = "brightness")]
    pub shift: f64,
}

/// The graph's defaults: multiplier 1, shift 0 (the identity).
impl Default for BrightnessContrast {
    fn default() -> Self {
        BrightnessContrast { multiplier: one(), shift: 0.0 }
    }
}

impl BrightnessContrast {
    /// `x · multiplier + shift` on an image: the `brightness_contrast` node on `volume`, in one
    /// call.
    ///
    /// ```
    /// use voxflow_intensity::brightness_contrast::BrightnessContrast;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(BrightnessContrast::default().apply(&volume)?.image()?, volume.image()?);
    /// let darker = BrightnessContrast { shift: -1.0, ..Default::default() }.apply(&volume)?;
    /// assert_eq!(darker.image()?[[0, 0, 0, 0]], -1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_brightness_contrast`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::brightness_contrast::RandomBrightnessContrast;
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let drawn = RandomBrightnessContrast::default().sample(&mut rng);
/// assert!((0.75..=1.25).contains(&drawn.multiplier) && drawn.shift == 0.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomBrightnessContrast {
    /// Range of the multiplier; default `[0.75, 1.25]` (nnU-Net).
    #[serde(default = "default_multiplier", alias = "contrast")]
    pub multiplier: [f64; 2],
    /// Range of the shift; default `[0, 0]`.
    #[serde(default, alias = "brightness")]
    pub shift: [f64; 2],
    /// Probability of applying it; otherwise multiplier 1, shift 0. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: multiplier in `[0.75, 1.25]` (nnU-Net), no shift, always applied.
impl Default for RandomBrightnessContrast {
    fn default() -> Self {
        RandomBrightnessContrast { multiplier: default_multiplier(), shift: [0.0; 2], p: default_p() }
    }
}

fn one() -> f64 {
    1.0
}
fn default_multiplier() -> [f64; 2] {
    [0.75, 1.25]
}

/// `input · multiplier + shift`.
///
/// ```
/// let frame = ndarray::Array3::from_elem((4, 4, 4), 2.0f32);
/// let out = voxflow_intensity::brightness_contrast::brightness_contrast(frame.view(), 1.5, -1.0);
/// assert!(out.iter().all(|&v| v == 2.0));
/// ```
#[must_use]
pub fn brightness_contrast(input: ArrayView3<'_, f32>, multiplier: f64, shift: f64) -> Array3<f32> {
    map_voxels(input, move |v| (f64::from(v) * multiplier + shift) as f32)
}

voxflow_core::op_doc!(
    "brightness_contrast",
    BrightnessContrast,
    "Multiplies image intensities by `multiplier`, then adds `shift`; intensity only, the affine is kept.",
    "{}"
);

#[typetag::serde(name = "brightness_contrast")]
impl Op for BrightnessContrast {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if !self.multiplier.is_finite() {
            return Err(OpError::param("multiplier", format!("must be finite, got {}", self.multiplier)));
        }
        if !self.shift.is_finite() {
            return Err(OpError::param("shift", format!("must be finite, got {}", self.shift)));
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        if self.multiplier == 1.0 && self.shift == 0.0 {
            return Ok(Value::Volume(volume));
        }
        let (m, s) = (self.multiplier, self.shift);
        map_image_voxels(volume, |_, _| Ok(move |v: f32| (f64::from(v) * m + s) as f32))
    }
}

impl RandomBrightnessContrast {
    /// Draws the concrete op; apply it with [`BrightnessContrast::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::brightness_contrast::RandomBrightnessContrast;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomBrightnessContrast { shift: [-1.0, 1.0], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?.image()?[[0, 0, 0, 0]], drawn.shift as f32);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> BrightnessContrast {
        if happens(rng, self.p) {
            let multiplier = uniform(rng, self.multiplier);
            let shift = uniform(rng, self.shift);
            BrightnessContrast { multiplier, shift }
        } else {
            BrightnessContrast { multiplier: 1.0, shift: 0.0 }
        }
    }
}

voxflow_core::op_doc!(
    "random_brightness_contrast",
    RandomBrightnessContrast,
    "Draws a `brightness_contrast` with multiplier and shift uniform in their ranges, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomBrightnessContrast {
    type Drawn = BrightnessContrast;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("multiplier", self.multiplier)?;
        check_range("shift", self.shift)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<BrightnessContrast, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_brightness_contrast")]
impl Op for RandomBrightnessContrast {
    voxflow_core::random_op_node!(RandomBrightnessContrast);
}
