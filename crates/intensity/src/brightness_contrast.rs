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
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value};

/// Parameters of `brightness_contrast` (also what `random_brightness_contrast` draws).
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

/// Parameters of `random_brightness_contrast`.
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

fn one() -> f64 {
    1.0
}
fn default_multiplier() -> [f64; 2] {
    [0.75, 1.25]
}

/// `input · multiplier + shift`.
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
    /// Draws the concrete op.
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
