//! `gamma` / `random_gamma`: raises intensities to the power γ.
//!
//! ```json
//! {"name": "g", "op": "random_gamma", "params": {"log_gamma": [-0.3, 0.3], "p": 0.5}},
//! {"name": "image_g", "op": "apply", "inputs": {"volume": "image", "draw": "g"}}
//! ```
//!
//! The definition is TorchIO's `RandomGamma`: `y = sign(x) · |x|^γ` (TorchIO uses `x^γ`
//! when no voxel is negative and `sign(x)·|x|^γ` otherwise, which is the same function), in
//! f32, with `γ = exp(β)`, `β ~ U(log_gamma)` (default `[-0.3, 0.3]`, TorchIO's).
//!
//! The power is f32 `powf` (libm), parallel over voxels. A branch-free vectorised
//! `exp2(γ·log2|x|)` was tried: with the baseline x86-64 target (SSE2) it was slower than
//! glibc's `powf` on this machine, so it is not used.
//!
//! `rescale: true` switches to batchgenerators' `augment_gamma`: the image is mapped to
//! `[0, 1]` by its min and max (+1e-7 in the range, as batchgenerators), raised to γ and
//! mapped back. `invert: true` is batchgenerators' `invert_image`: the power is applied to
//! `-x` and the result negated, which brightens dark voxels instead of bright ones. It only
//! has an effect with `rescale: true`: TorchIO's odd-symmetric power gives back exactly the
//! same image after the two negations.

use crate::common::{
    FlatRegion, IMAGE_PORTS, Moments, check_p, check_range, default_p, fortran_slice, happens,
    map_image_voxels, map_voxels, moments, take_image, uniform,
};
use ndarray::{Array3, ArrayView3};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value};

/// Parameters of `gamma` (also what `random_gamma` draws).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gamma {
    /// The exponent, > 0. 1 leaves the image unchanged.
    pub gamma: f64,
    /// batchgenerators' variant: apply the power to the image mapped to `[0, 1]`. Default false.
    #[serde(default)]
    pub rescale: bool,
    /// batchgenerators' `invert_image` (only meaningful with `rescale`). Default false.
    #[serde(default)]
    pub invert: bool,
}

/// Parameters of `random_gamma`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomGamma {
    /// Range of `log(γ)`; default `[-0.3, 0.3]` (TorchIO).
    #[serde(default = "default_log_gamma")]
    pub log_gamma: [f64; 2],
    /// Probability of applying it; otherwise γ = 1. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
    /// See [`Gamma::rescale`].
    #[serde(default)]
    pub rescale: bool,
    /// See [`Gamma::invert`].
    #[serde(default)]
    pub invert: bool,
}

fn default_log_gamma() -> [f64; 2] {
    [-0.3, 0.3]
}

/// `sign(x) · |x|^γ` for every voxel (TorchIO), or batchgenerators' rescaled variant.
#[must_use]
pub fn gamma(input: ArrayView3<'_, f32>, gamma: f64, rescale: bool, invert: bool) -> Array3<f32> {
    map_voxels(input, gamma_fn(input, gamma, rescale, invert))
}

/// The per-voxel power (with batchgenerators' rescaling, its min and max come from `input`).
fn gamma_fn(
    input: ArrayView3<'_, f32>,
    gamma: f64,
    rescale: bool,
    invert: bool,
) -> impl Fn(f32) -> f32 + Sync + use<> {
    let g = gamma as f32;
    let sign = if invert { -1.0f32 } else { 1.0 };
    let (mut min, mut range) = (0.0f32, 1.0f32);
    let m = if rescale { moments(&fortran_slice(input), &FlatRegion::All, true) } else { Moments::EMPTY };
    let rescale = rescale && m.n > 0;
    if rescale {
        // On the (possibly negated) image: min and range.
        let (lo, hi) = if invert { (-m.max, -m.min) } else { (m.min, m.max) };
        range = (hi - lo + 1e-7) as f32;
        min = lo as f32;
    }
    move |v: f32| {
        if rescale {
            let x = sign * v;
            sign * (((x - min) / range).powf(g) * range + min)
        } else {
            v.abs().powf(g).copysign(v)
        }
    }
}

fn check_gamma(g: f64) -> Result<(), OpError> {
    if g.is_finite() && g > 0.0 {
        Ok(())
    } else {
        Err(OpError::param("gamma", format!("must be finite and > 0, got {g}")))
    }
}

voxflow_core::op_doc!(
    "gamma",
    "Raises image intensities to the power `gamma` (optionally on the image mapped to [0, 1], batchgenerators style); intensity only.",
    r#"{"gamma": 1.5}"#
);

#[typetag::serde(name = "gamma")]
impl Op for Gamma {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        check_gamma(self.gamma)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        if self.gamma == 1.0 {
            return Ok(Value::Volume(volume));
        }
        map_image_voxels(volume, |_, frame| Ok(gamma_fn(frame, self.gamma, self.rescale, self.invert)))
    }
}

impl RandomGamma {
    /// Draws the concrete op.
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Gamma {
        let gamma = if happens(rng, self.p) { uniform(rng, self.log_gamma).exp() } else { 1.0 };
        Gamma { gamma, rescale: self.rescale, invert: self.invert }
    }
}

voxflow_core::op_doc!(
    "random_gamma",
    "Draws a `gamma` with log(gamma) uniform in `log_gamma`, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

#[typetag::serde(name = "random_gamma")]
impl Op for RandomGamma {
    fn ports(&self) -> &'static [Port] {
        &[]
    }

    fn validate(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("log_gamma", self.log_gamma)
    }

    fn output_kind(&self, _inputs: &BTreeMap<String, Kind>) -> Result<Kind, OpError> {
        Ok(Kind::Draw)
    }

    fn draw_applies_to(&self) -> &'static [Kind] {
        &[Kind::Image]
    }

    fn run(&self, ctx: &mut RunContext<'_>, _inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        Ok(Value::Draw(Arc::new(self.sample(&mut ctx.rng))))
    }
}
