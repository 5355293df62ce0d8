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
//! The power is [`Power`]: `exp2(γ·log2|x|)` in f32, branch-free, so the voxel loop
//! vectorises (SSE2 is enough: 4 voxels per instruction), about twice as fast as libm's
//! `powf` called per voxel. It is within 2.5e-7 relative of the exact power (a few f32 ulps;
//! the tests' 1e-5 is TorchIO's float32 `**` against float64).
//!
//! `rescale: true` switches to batchgenerators' `augment_gamma`: the image is mapped to
//! `[0, 1]` by its min and max (+1e-7 in the range, as batchgenerators), raised to γ and
//! mapped back. `invert: true` is batchgenerators' `invert_image`: the power is applied to
//! `-x` and the result negated, which brightens dark voxels instead of bright ones. It only
//! has an effect with `rescale: true`: TorchIO's odd-symmetric power gives back exactly the
//! same image after the two negations.
//!
//! `retain_stats: true` is batchgenerators' `augment_gamma(..., retain_stats=True)`
//! (`batchgenerators/augmentations/color_augmentations.py`): after the power, the frame is
//! mapped back to the mean and standard deviation (numpy's, `ddof = 0`) it had before,
//! `y = (z - mean(z)) / (std(z) + 1e-8) · std(x) + mean(x)`, in f64, rounded to f32. The
//! statistics are over the frame's finite voxels (batchgenerators' `per_channel=True`: a frame
//! is a channel). With `invert` this is the same formula on the final image, since
//! batchgenerators negates the image, takes its statistics, and negates the result. It applies
//! to TorchIO's power too (`rescale: false`), which batchgenerators does not have.

use crate::frame::{CHUNK, fortran_slice, map_voxel_slices};
use crate::moments::moments;
use crate::node::{IMAGE_PORTS, map_image, map_image_slices, take_image};
use crate::region::FlatRegion;
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_p, check_range, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `gamma` (also what `random_gamma` draws).
///
/// ```
/// use voxflow_intensity::gamma::Gamma;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let squared = Gamma { gamma: 2.0, ..Default::default() }.apply(&volume)?;
/// assert_eq!(squared.image()?[[1, 1, 1, 0]], 9.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// batchgenerators' `retain_stats`: give the result the mean and standard deviation the
    /// frame had before. Default false (then not written in manifests).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_stats: bool,
}

/// γ = 1 (the identity), TorchIO's power: set `gamma`.
impl Default for Gamma {
    fn default() -> Self {
        Gamma { gamma: 1.0, rescale: false, invert: false, retain_stats: false }
    }
}

impl Gamma {
    /// Raises an image to the power γ: the `gamma` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::gamma::Gamma;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(Gamma::default().apply(&volume)?.image()?, volume.image()?);
    /// let kept = Gamma { gamma: 0.5, retain_stats: true, ..Default::default() }.apply(&volume)?;
    /// let mean = |v: &voxflow_core::Volume| v.image().map(|a| a.mean().unwrap_or(0.0));
    /// assert!((mean(&kept)? - mean(&volume)?).abs() < 1e-4);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_gamma`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::gamma::RandomGamma;
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let gamma = RandomGamma::default().sample(&mut rng).gamma;
/// assert!((-0.3..=0.3).contains(&gamma.ln()));
/// assert_eq!(RandomGamma { p: 0.0, ..Default::default() }.sample(&mut rng).gamma, 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// See [`Gamma::retain_stats`]. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_stats: bool,
}

/// The graph's defaults: log γ in `[-0.3, 0.3]` (TorchIO), always applied.
impl Default for RandomGamma {
    fn default() -> Self {
        RandomGamma {
            log_gamma: default_log_gamma(),
            p: default_p(),
            rescale: false,
            invert: false,
            retain_stats: false,
        }
    }
}

fn default_log_gamma() -> [f64; 2] {
    [-0.3, 0.3]
}

/// `sign(x) · |x|^γ` for every voxel (TorchIO), or batchgenerators' rescaled variant.
///
/// ```
/// let frame = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32 - 4.0);
/// let squared = voxflow_intensity::gamma::gamma(frame.view(), 2.0, false, false);
/// assert_eq!((squared[[3, 3, 3]], squared[[0, 0, 0]]), (25.0, -16.0));
/// let rescaled = voxflow_intensity::gamma::gamma(frame.view(), 2.0, true, false);
/// assert_eq!(rescaled[[0, 0, 0]], -4.0); // the minimum maps to 0 on [0, 1] and back
/// ```
#[must_use]
pub fn gamma(input: ArrayView3<'_, f32>, gamma: f64, rescale: bool, invert: bool) -> Array3<f32> {
    map_voxel_slices(input, gamma_fn(input, gamma, rescale, invert))
}

/// batchgenerators' `retain_stats`: maps `output` (the power of `input`) to `input`'s mean and
/// standard deviation, `(z - mean(z)) / (std(z) + 1e-8) · std(x) + mean(x)` (`ddof = 0`, over
/// the finite voxels; a frame without one is left as it is).
///
/// ```
/// use voxflow_intensity::gamma::{gamma, retain_stats};
/// let frame = ndarray::Array3::from_shape_fn((4, 4, 4), |(i, j, k)| (i + j + k) as f32);
/// let mut out = gamma(frame.view(), 3.0, false, false);
/// retain_stats(frame.view(), &mut out);
/// assert!((out.mean().unwrap() - frame.mean().unwrap()).abs() < 1e-4);
/// assert!((out.std(0.0) - frame.std(0.0)).abs() < 1e-4);
/// ```
pub fn retain_stats(input: ArrayView3<'_, f32>, output: &mut Array3<f32>) {
    let before = moments(&fortran_slice(input), &FlatRegion::All, false);
    let data = output.as_slice_memory_order_mut().expect("a kernel's output is contiguous");
    let after = moments(data, &FlatRegion::All, false);
    let (Some(var_before), Some(var_after)) = (before.variance(0), after.variance(0)) else {
        return;
    };
    let scale = var_before.sqrt() / (var_after.sqrt() + 1e-8);
    let (mean_before, mean_after) = (before.mean, after.mean);
    data.par_chunks_mut(CHUNK).for_each(|chunk| {
        for v in chunk {
            *v = ((f64::from(*v) - mean_after) * scale + mean_before) as f32;
        }
    });
}

/// The power in place on a slice of a frame (with batchgenerators' rescaling, the frame's min
/// and max come from `input`).
fn gamma_fn(
    input: ArrayView3<'_, f32>,
    gamma: f64,
    rescale: bool,
    invert: bool,
) -> impl Fn(&mut [f32]) + Sync + use<> {
    let power = Power::new(gamma as f32);
    // batchgenerators: `y = sign · (((sign · x - min) / range)^γ · range + min)` on the image
    // mapped to [0, 1] by its min and max (of `-x` with `invert`). A frame without a finite
    // voxel is left to TorchIO's power.
    let rescaling = if rescale { finite_min_max(&fortran_slice(input)) } else { None };
    let map = rescaling.map(|(lo, hi)| {
        let (lo, hi) = if invert { (-f64::from(hi), -f64::from(lo)) } else { (f64::from(lo), f64::from(hi)) };
        let sign = if invert { -1.0f32 } else { 1.0 };
        (sign, lo as f32, (hi - lo + 1e-7) as f32)
    });
    move |data: &mut [f32]| match map {
        None => power.pow_signed_in_place(data),
        Some((sign, min, range)) => {
            for v in data.iter_mut() {
                *v = (sign * *v - min) / range;
            }
            power.pow_signed_in_place(data);
            for v in data.iter_mut() {
                *v = sign * (*v * range + min);
            }
        }
    }
}

/// `sign(x) · |x|^γ` in f32, as `2^(γ·log2 |x|)` without branches or calls, so that loops of
/// it vectorise (SSE2 is enough). [`Power::pow_signed_in_place`] runs it over a slice in three
/// vectorised passes per block of voxels rather than one long dependency chain per voxel,
/// which keeps the out-of-order core busy: ~30 ms for 16.7M voxels on one core, where a loop
/// of libm's `powf` (scalar, one call per voxel) takes ~58 ms.
///
/// `x = m·2^e` with `m` in `[√½, √2)` (from the bits; subnormals are scaled by 2^24 first),
/// `log2 m = s·Q(s²)` with `s = (m-1)/(m+1)` (`|s| <= 0.172`) and `Q` a degree-3 minimax
/// polynomial (relative error 1.3e-8), and `2^f` for `|f| <= 1/2` by a degree-6 minimax
/// polynomial (1.6e-8). `γ·e` is formed exactly (γ split into a 12-bit head and a tail), so
/// the error does not grow with `|log2 x|`: measured over x from the smallest subnormal to
/// `f32::MAX` and γ in {1/3, 0.5, 0.74, 0.8, 1.3, 1.35, 2.5}, the relative error against f64
/// `powf` is at most 2.5e-7 (γ = 2.5; 1.4e-7 for γ <= 1/2), a few f32 ulps (test
/// `fast_power_is_within_its_error_bound`), for results that are normal f32 numbers.
///
/// Like `powf` for `γ > 0`: `0^γ = 0`, `inf^γ = inf`, NaN stays NaN, results beyond the f32
/// range are `inf` or `0`, subnormal results are rounded once.
///
/// ```
/// use voxflow_intensity::gamma::Power;
/// let cube = Power::new(3.0);
/// assert!((cube.pow_signed(-2.0) + 8.0).abs() < 1e-5);
/// assert_eq!(cube.pow_signed(0.0), 0.0);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Power {
    g_head: f32,
    g_tail: f32,
    /// γ times the coefficients of `Q`.
    log: [f32; 4],
}

/// `log2((1+s)/(1-s)) / s` as a polynomial in `s²`, minimax for `|s| <= (√2-1)/(√2+1)`.
const LOG2_Q: [f64; 4] =
    [2.885_390_043_258_667, 0.961_798_846_721_649_2, 0.576_714_336_872_100_8, 0.431_737_929_582_595_8];
/// `2^f` on `[-1/2, 1/2]`, minimax (coefficients of `f^1..f^6`; `f^0`'s is 1; that of `f` rounds
/// to ln 2 in f32).
const EXP2_P: [f32; 6] =
    [std::f32::consts::LN_2, 0.240_226_46, 0.055_503_275, 0.009_618_495, 0.001_340_046, 0.000_153_453_5];
/// 1.5·2^23: `(v + ROUND) - ROUND` is `v` rounded to the nearest integer (ties to even) for
/// |v| < 2^22, and the low bits of `v + ROUND` hold that integer.
const ROUND: f32 = 12_582_912.0;
/// Voxels per block of [`Power::pow_signed_in_place`]: its scratch fits in L1.
const BLOCK: usize = 256;

impl Power {
    /// The power `γ` (finite, > 0).
    ///
    /// ```
    /// let root = voxflow_intensity::gamma::Power::new(0.5);
    /// assert!((root.pow_signed(16.0) - 4.0).abs() < 1e-5);
    /// ```
    #[must_use]
    pub fn new(gamma: f32) -> Self {
        // Beyond 1e10 every f32 but 1 (|log2 x| >= 2^-24) over- or underflows, as with γ.
        let g = gamma.min(1e10);
        let g_head = f32::from_bits(g.to_bits() & 0xffff_f000);
        Power { g_head, g_tail: g - g_head, log: LOG2_Q.map(|c| (c * f64::from(g)) as f32) }
    }

    /// `sign(x) · |x|^γ` (TorchIO's gamma); see [`Power`].
    ///
    /// ```
    /// let square = voxflow_intensity::gamma::Power::new(2.0);
    /// assert!((square.pow_signed(-3.0) + 9.0).abs() < 1e-5);
    /// assert!(square.pow_signed(f32::NAN).is_nan());
    /// ```
    #[must_use]
    pub fn pow_signed(self, x: f32) -> f32 {
        let (s, e) = split(x.abs());
        let (f, rounded) = self.reduce(s, e);
        signed_or_special(scale(f, rounded), x)
    }

    /// [`Power::pow_signed`] of every value, in place: the same bits, several times faster
    /// than a loop of it.
    ///
    /// ```
    /// let power = voxflow_intensity::gamma::Power::new(1.7);
    /// let mut values = [-2.0f32, 0.5, 3.0];
    /// power.pow_signed_in_place(&mut values);
    /// assert_eq!(values, [-2.0f32, 0.5, 3.0].map(|v| power.pow_signed(v)));
    /// ```
    pub fn pow_signed_in_place(self, data: &mut [f32]) {
        let mut a = [0f32; BLOCK];
        let mut b = [0f32; BLOCK];
        for block in data.chunks_mut(BLOCK) {
            let (a, b) = (&mut a[..block.len()], &mut b[..block.len()]);
            for ((&v, a), b) in block.iter().zip(a.iter_mut()).zip(b.iter_mut()) {
                (*a, *b) = split(v.abs());
            }
            for (a, b) in a.iter_mut().zip(b.iter_mut()) {
                (*a, *b) = self.reduce(*a, *b);
            }
            for ((v, &a), &b) in block.iter_mut().zip(a.iter()).zip(b.iter()) {
                *v = signed_or_special(scale(a, b), *v);
            }
        }
    }

    /// `γ·log2 x` from [`split`], as `f` in `[-1/2, 1/2]` and an integer `n` (held in the low
    /// bits of `n + ROUND`).
    #[inline]
    fn reduce(self, s: f32, e: f32) -> (f32, f32) {
        let u = s * s;
        let [c0, c1, c2, c3] = self.log;
        let g_log2_m = s * ((c0 + c1 * u) + (u * u) * (c2 + c3 * u));
        // γ·log2 x = head + low with head = γ_head·e exact (12 + 8 significant bits), rounded
        // to n, and f = (head - n) + low (head - n is exact). The clamps only act when the
        // result is 0 or inf anyway (|low| <= |head| / 2 + 1 when e != 0), and keep 2^f finite.
        let head = self.g_head * e;
        let low = self.g_tail * e + g_log2_m;
        let rounded = (head + low).clamp(-250.0, 250.0) + ROUND;
        let f = ((head - (rounded - ROUND)) + low).clamp(-1.0, 1.0);
        (f, rounded)
    }
}

/// `x >= 0` as `m·2^e`, `m` in `[√½, √2)`: returns `s = (m-1)/(m+1)` and `e` (for 0, inf and
/// NaN, values that [`scale`] discards).
#[inline]
fn split(x: f32) -> (f32, f32) {
    const SQRT_HALF_BITS: i32 = 0x3f35_04f3;
    let tiny = x < f32::MIN_POSITIVE;
    let xs = x * if tiny { 16_777_216.0 } else { 1.0 };
    let bits = xs.to_bits() as i32;
    let e = bits.wrapping_sub(SQRT_HALF_BITS) >> 23;
    let m = f32::from_bits(bits.wrapping_sub(e << 23) as u32);
    ((m - 1.0) / (m + 1.0), e as f32 - if tiny { 24.0 } else { 0.0 })
}

/// `2^f · 2^n` (see [`Power::reduce`]).
#[inline]
fn scale(f: f32, rounded: f32) -> f32 {
    let [p1, p2, p3, p4, p5, p6] = EXP2_P;
    let f2 = f * f;
    let p = (1.0 + p1 * f) + f2 * ((p2 + p3 * f) + f2 * ((p4 + p5 * f) + f2 * p6));
    // 2^n as 2^k · 2^(n-k), each within the normal range: subnormal results rounded once.
    let n = rounded.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    let k = n >> 1;
    let two_to = |k: i32| f32::from_bits(((k + 127) << 23) as u32);
    p * two_to(k) * two_to(n - k)
}

/// `y` (the power of `|x|`) with the sign of `x`, or `x` itself when it is ±0, ±inf or NaN.
#[inline]
fn signed_or_special(y: f32, x: f32) -> f32 {
    const SIGN: u32 = 0x8000_0000;
    // |x|'s bits are in [1, 0x7f7f_ffff] (neither 0, inf nor NaN) exactly when adding 2^23
    // keeps them above 2^23 as an i32 (inf and NaN wrap to negative): one integer compare,
    // where the float comparisons become several on SSE2.
    let regular = ((x.to_bits() & !SIGN).wrapping_add(0x0080_0000) as i32) > 0x0080_0000;
    if regular { f32::from_bits(y.to_bits() | (x.to_bits() & SIGN)) } else { x }
}

/// Minimum and maximum of the finite values, `None` when there is none. Order-independent,
/// so computed over parallel chunks, with explicit lanes (a min/max reduction over floats
/// only vectorises that way).
fn finite_min_max(data: &[f32]) -> Option<(f32, f32)> {
    const L: usize = 8;
    let (lo, hi) = data
        .par_chunks(CHUNK)
        .map(|chunk| {
            let mut lo = [f32::INFINITY; L];
            let mut hi = [f32::NEG_INFINITY; L];
            let blocks = chunk.chunks_exact(L);
            let rest = blocks.remainder();
            for block in blocks {
                for l in 0..L {
                    let v = block[l];
                    let finite = v.abs() < f32::INFINITY;
                    lo[l] = if finite && v < lo[l] { v } else { lo[l] };
                    hi[l] = if finite && v > hi[l] { v } else { hi[l] };
                }
            }
            for &v in rest.iter().filter(|v| v.is_finite()) {
                lo[0] = lo[0].min(v);
                hi[0] = hi[0].max(v);
            }
            (lo.into_iter().fold(f32::INFINITY, f32::min), hi.into_iter().fold(f32::NEG_INFINITY, f32::max))
        })
        .reduce(|| (f32::INFINITY, f32::NEG_INFINITY), |a, b| (a.0.min(b.0), a.1.max(b.1)));
    (lo <= hi).then_some((lo, hi))
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
    Gamma,
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
        if self.retain_stats {
            return map_image(&volume, |_, frame| {
                let mut out = gamma(frame, self.gamma, self.rescale, self.invert);
                retain_stats(frame, &mut out);
                Ok(out)
            });
        }
        map_image_slices(volume, |_, frame| Ok(gamma_fn(frame, self.gamma, self.rescale, self.invert)))
    }
}

impl RandomGamma {
    /// Draws the concrete op; apply it with [`Gamma::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::gamma::RandomGamma;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomGamma { log_gamma: [-0.5, 0.5], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// let augmented = drawn.apply(&volume)?;
    /// assert_eq!(augmented.shape3(), volume.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Gamma {
        let gamma = if happens(rng, self.p) { uniform(rng, self.log_gamma).exp() } else { 1.0 };
        Gamma { gamma, rescale: self.rescale, invert: self.invert, retain_stats: self.retain_stats }
    }
}

voxflow_core::op_doc!(
    "random_gamma",
    RandomGamma,
    "Draws a `gamma` with log(gamma) uniform in `log_gamma`, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomGamma {
    type Drawn = Gamma;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_range("log_gamma", self.log_gamma)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Gamma, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_gamma")]
impl Op for RandomGamma {
    voxflow_core::random_op_node!(RandomGamma);
}
