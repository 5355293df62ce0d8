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
//! The power is computed by [`signed_pow`]: `exp2(γ · log2|x|)` in branch-free f32 arithmetic
//! (so the loop vectorises; libm's `powf` is a scalar call), within 2e-6 relative of the exact
//! value for |x| in 1e-6..1e6 and 1e-5 for results between 1e-30 and 1e30 (checked against f64
//! `powf` in the tests).
//!
//! `rescale: true` switches to batchgenerators' `augment_gamma`: the image is mapped to
//! `[0, 1]` by its min and max (+1e-7 in the range, as batchgenerators), raised to γ and
//! mapped back. `invert: true` is batchgenerators' `invert_image`: the power is applied to
//! `-x` and the result negated, which brightens dark voxels instead of bright ones. It only
//! has an effect with `rescale: true`: TorchIO's odd-symmetric power gives back exactly the
//! same image after the two negations.

use crate::common::{
    FlatRegion, IMAGE_PORTS, check_p, check_range, default_p, fortran_slice, happens, map_image, map_voxels,
    moments, take_image, uniform,
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
    let g = gamma as f32;
    if !rescale {
        return map_voxels(input, move |v| signed_pow(v, g));
    }
    let sign = if invert { -1.0f32 } else { 1.0 };
    let m = moments(&fortran_slice(input), &FlatRegion::All);
    if m.n == 0 {
        return map_voxels(input, |v| v);
    }
    // On the (possibly negated) image: min and range.
    let (min, max) = if invert { (-m.max, -m.min) } else { (m.min, m.max) };
    let range = (max - min + 1e-7) as f32;
    let min = min as f32;
    map_voxels(input, move |v| {
        let x = sign * v;
        let y = signed_pow((x - min) / range, g) * range + min;
        sign * y
    })
}

/// `sign(x) · |x|^g` for `g > 0`, as `exp2(g · log2|x|)` in f32 without branches or calls.
/// Exact for 0, ±inf and NaN; results below ~1e-38 (f32's normal range) flush to 0.
#[inline]
#[must_use]
pub fn signed_pow(x: f32, g: f32) -> f32 {
    const SQRT2: f32 = std::f32::consts::SQRT_2;
    const TWO_POW_24: f32 = 16_777_216.0;
    // Round-to-nearest by the 1.5·2^23 trick (no SSE4.1 `round` needed).
    const ROUND: f32 = 12_582_912.0;
    let a = x.abs();
    // log2(a) = e + log2(m), m in [sqrt(1/2), sqrt(2)); subnormals scaled up first.
    let sub = a < f32::MIN_POSITIVE;
    let a_n = if sub { a * TWO_POW_24 } else { a };
    let bits = a_n.to_bits();
    let e = ((bits >> 23) as i32) - 127 - if sub { 24 } else { 0 };
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    let big = m > SQRT2;
    let m = if big { m * 0.5 } else { m };
    let e = e + i32::from(big);
    // ln(m) = 2·atanh(s), s = (m - 1)/(m + 1), |s| < 0.172: the series to s^11 is exact in f32.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let ln_m =
        2.0 * s * (1.0 + s2 * (1.0 / 3.0 + s2 * (0.2 + s2 * (1.0 / 7.0 + s2 * (1.0 / 9.0 + s2 / 11.0)))));
    let t = g * (e as f32 + ln_m * std::f32::consts::LOG2_E);
    // exp2(t) = 2^n · 2^f, n = round(t), |f| <= 0.5.
    let t = t.clamp(-160.0, 160.0);
    let n = (t + ROUND) - ROUND;
    let f = (t - n) * std::f32::consts::LN_2;
    let p = 1.0
        + f * (1.0
            + f * (0.5
                + f * (1.0 / 6.0 + f * (1.0 / 24.0 + f * (1.0 / 120.0 + f * (1.0 / 720.0 + f / 5040.0))))));
    let ni = n as i32;
    let scaled = f32::from_bits((p.to_bits() as i32).wrapping_add(ni.wrapping_shl(23)) as u32);
    let y = if ni > 127 {
        f32::INFINITY
    } else if ni < -125 {
        0.0
    } else {
        scaled
    };
    // 0 -> 0, inf -> inf, NaN -> NaN.
    let y = if a == 0.0 || a == f32::INFINITY || a.is_nan() { a } else { y };
    y.copysign(x)
}

fn check_gamma(g: f64) -> Result<(), OpError> {
    if g.is_finite() && g > 0.0 {
        Ok(())
    } else {
        Err(OpError::param("gamma", format!("must be finite and > 0, got {g}")))
    }
}

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
        map_image(&volume, |_, frame| Ok(gamma(frame, self.gamma, self.rescale, self.invert)))
    }
}

impl RandomGamma {
    /// Draws the concrete op.
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Gamma {
        let gamma = if happens(rng, self.p) { uniform(rng, self.log_gamma).exp() } else { 1.0 };
        Gamma { gamma, rescale: self.rescale, invert: self.invert }
    }
}

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

#[cfg(test)]
mod tests {
    use super::signed_pow;

    #[test]
    fn signed_pow_matches_f64_powf() {
        let (mut worst, mut worst_usual) = (0.0f64, 0.0f64);
        for i in 0..20_000 {
            // |x| from 1e-30 to 1e30, both signs.
            let x = 10f64.powf(-30.0 + 60.0 * f64::from(i) / 20_000.0) as f32;
            let x = if i % 2 == 0 { x } else { -x };
            for g in [0.3f32, 0.7408, 1.0, 1.3499, 2.0] {
                let exact = f64::from(x).abs().powf(f64::from(g)).copysign(f64::from(x));
                if exact.abs() < 1e-30 || exact.abs() > 1e30 {
                    continue;
                }
                let rel = (f64::from(signed_pow(x, g)) - exact).abs() / exact.abs();
                worst = worst.max(rel);
                if (1e-6..=1e6).contains(&x.abs()) {
                    worst_usual = worst_usual.max(rel);
                }
            }
        }
        assert!(worst < 1e-5, "worst relative error {worst}");
        assert!(worst_usual < 2e-6, "worst relative error for |x| in 1e-6..1e6: {worst_usual}");
        for g in [0.5f32, 1.5] {
            assert_eq!(signed_pow(0.0, g), 0.0);
            assert_eq!(signed_pow(f32::INFINITY, g), f32::INFINITY);
            assert_eq!(signed_pow(f32::NEG_INFINITY, g), f32::NEG_INFINITY);
            assert!(signed_pow(f32::NAN, g).is_nan());
            assert_eq!(signed_pow(1.0, g), 1.0);
        }
        assert_eq!(signed_pow(4.0, 0.5), 2.0);
        assert_eq!(signed_pow(-8.0, 2.0), -64.0);
    }
}
