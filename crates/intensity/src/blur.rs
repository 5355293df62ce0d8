//! `blur` / `random_blur`: Gaussian blur with the standard deviation in millimetres.
//!
//! ```json
//! {"name": "smooth", "op": "blur", "params": {"sigma_mm": 1.5}, "inputs": {"volume": "image"}}
//! {"name": "b", "op": "random_blur", "params": {"std": [0, 2], "p": 0.2}}
//! ```
//!
//! Sigma is converted to voxels per axis with the affine's voxel spacing (`sigma_mm[i] /
//! spacing[i]`), so an anisotropic volume (thick slices) is blurred by the same physical
//! amount along every axis. The filter is exactly `scipy.ndimage.gaussian_filter(x,
//! sigma_voxels, truncate=4.0, mode="reflect")`: kernel radius `int(truncate·σ + 0.5)`,
//! weights `exp(-x²/2σ²)` normalised to sum 1, half-sample symmetric border
//! (`d c b a | a b c d | d c b a`), the result rounded to f32 after each axis, and axes with
//! σ ≤ 1e-15 skipped (voxflow filters z first, then x and y: see [`gaussian_filter`]).
//!
//! `random_blur` draws each axis' sigma (mm) independently from `std` (TorchIO's
//! `RandomBlur`, default `[0, 2]`).

use crate::IntensityError;
use crate::frame::{fortran_slice, from_fortran, shape3};
use crate::node::{IMAGE_PORTS, map_image, take_image};
use ndarray::{Array3, ArrayView3, Axis, ShapeBuilder, s};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::params::{check_nonnegative_range, check_p, default_p};
use voxflow_core::random::{happens, uniform};
use voxflow_core::{Inputs, Kind, Op, OpError, Port, RunContext, Value, Volume};

/// A sigma for all three axes, or one per axis: `Sigma::Isotropic(1.5)` or
/// `Sigma::PerAxis([1.0, 1.0, 0.5])`.
pub type Sigma = voxflow_core::params::OneOrThree<f64>;

/// Parameters of `blur` (also what `random_blur` draws).
///
/// ```
/// use voxflow_intensity::blur::{Blur, Sigma};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((9, 9, 9), |p| if p == (4, 4, 4) { 1.0 } else { 0.0 }), voxflow_core::Affine::identity());
/// let blurred = Blur { sigma_mm: Sigma::Isotropic(1.0), ..Default::default() }.apply(&volume)?;
/// let image = blurred.image()?;
/// assert!(image[[4, 4, 4, 0]] < 0.1 && (image.sum() - 1.0).abs() < 1e-4); // spread, not lost
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Blur {
    /// Standard deviation in mm: one number, or `[x, y, z]`. >= 0; 0 leaves that axis alone.
    pub sigma_mm: Sigma,
    /// Kernel radius in standard deviations (scipy's `truncate`); default 4.
    #[serde(default = "default_truncate")]
    pub truncate: f64,
}

/// No blur (sigma 0), scipy's `truncate` 4: set `sigma_mm`.
impl Default for Blur {
    fn default() -> Self {
        Blur { sigma_mm: Sigma::Isotropic(0.0), truncate: default_truncate() }
    }
}

impl Blur {
    /// Gaussian blur of an image, sigma in mm: the `blur` node on `volume`, in one call.
    ///
    /// ```
    /// use voxflow_intensity::blur::{Blur, Sigma};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// assert_eq!(Blur::default().apply(&volume)?.image()?, volume.image()?);
    /// // Blurring along x only keeps the (i + j + k) ramp's interior unchanged.
    /// let along_x = Blur { sigma_mm: Sigma::PerAxis([0.5, 0.0, 0.0]), ..Default::default() }.apply(&volume)?;
    /// assert!((along_x.image()?[[4, 4, 4, 0]] - 12.0).abs() < 1e-5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

/// Parameters of `random_blur`.
///
/// ```
/// use rand::SeedableRng;
/// use voxflow_intensity::blur::RandomBlur;
/// let mut rng = voxflow_core::seed::Rng::seed_from_u64(7);
/// let sigma = RandomBlur::default().sample(&mut rng).sigma_mm.per_axis();
/// assert!(sigma.iter().all(|s| (0.0..=2.0).contains(s)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomBlur {
    /// Range of each axis' sigma in mm; default `[0, 2]` (TorchIO).
    #[serde(default = "default_std")]
    pub std: [f64; 2],
    /// Probability of blurring; otherwise sigma = 0. Default 1.
    #[serde(default = "default_p")]
    pub p: f64,
}

/// The graph's defaults: each axis' sigma in `[0, 2]` mm (TorchIO), always applied.
impl Default for RandomBlur {
    fn default() -> Self {
        RandomBlur { std: default_std(), p: default_p() }
    }
}

pub(crate) fn default_truncate() -> f64 {
    4.0
}
fn default_std() -> [f64; 2] {
    [0.0, 2.0]
}

/// scipy's `_gaussian_kernel1d(sigma, 0, radius)`: weights for offsets `-radius..=radius`.
#[must_use]
fn gaussian_kernel1d(sigma: f64, truncate: f64) -> Vec<f64> {
    let radius = (truncate * sigma + 0.5).max(0.0) as i64;
    let s2 = sigma * sigma;
    let w: Vec<f64> = (-radius..=radius).map(|x| (-0.5 / s2 * (x * x) as f64).exp()).collect();
    let sum: f64 = w.iter().sum();
    w.into_iter().map(|v| v / sum).collect()
}

/// The centre and right half of the kernel, as f32 (the filter is symmetric).
fn half_weights(sigma: f64, truncate: f64) -> Option<Vec<f32>> {
    if !(sigma > 1e-15 && sigma.is_finite()) {
        return None;
    }
    let w = gaussian_kernel1d(sigma, truncate);
    let r = w.len() / 2;
    Some(w[r..].iter().map(|&v| v as f32).collect())
}

/// scipy's `reflect` boundary: index `i` folded into `0..n` (period `2n`).
#[inline]
fn reflect(i: isize, n: usize) -> usize {
    let n2 = 2 * n as isize;
    let m = i.rem_euclid(n2) as usize;
    if m < n { m } else { 2 * n - 1 - m }
}

/// `out = w[0]·row(0) + Σ_k w[k]·(row(-k) + row(k))` over whole rows (vectorises).
#[inline]
fn accumulate_rows<'a>(out: &mut [f32], w: &[f32], row: impl Fn(isize) -> &'a [f32]) {
    let w0 = w[0];
    for (o, &a) in out.iter_mut().zip(row(0)) {
        *o = w0 * a;
    }
    for (k, &wk) in w.iter().enumerate().skip(1) {
        let k = k as isize;
        for ((o, &a), &b) in out.iter_mut().zip(row(-k)).zip(row(k)) {
            *o += wk * (a + b);
        }
    }
}

/// Filters one row along x: `buf` is scratch for the padded row.
fn filter_row_x(src: &[f32], out: &mut [f32], w: &[f32], buf: &mut Vec<f32>) {
    let n = src.len();
    let r = w.len() - 1;
    buf.clear();
    if r <= n {
        // d c b a | a b c d | d c b a: the edges reflected, the middle copied.
        buf.extend(src[..r].iter().rev());
        buf.extend_from_slice(src);
        buf.extend(src[n - r..].iter().rev());
    } else {
        buf.extend((0..n + 2 * r).map(|i| src[reflect(i as isize - r as isize, n)]));
    }
    let buf = &buf[..];
    accumulate_rows(out, w, |k| {
        let start = (r as isize + k) as usize;
        &buf[start..start + n]
    });
}

/// x and y passes over one z-slab (`nx·ny` voxels, x fastest), in place; `buf` and `scratch`
/// are reused between slabs.
fn filter_slab_xy(
    slab: &mut [f32],
    nx: usize,
    wx: Option<&[f32]>,
    wy: Option<&[f32]>,
    buf: &mut Vec<f32>,
    scratch: &mut Vec<f32>,
) {
    let ny = slab.len() / nx;
    if let Some(w) = wx {
        for row in slab.chunks_exact_mut(nx) {
            // The padded copy in `buf` is the source, so the row can be overwritten.
            scratch.clear();
            scratch.extend_from_slice(row);
            filter_row_x(scratch, row, w, buf);
        }
    }
    if let Some(w) = wy {
        scratch.clear();
        scratch.extend_from_slice(slab);
        let src = &scratch[..];
        for (y, d) in slab.chunks_exact_mut(nx).enumerate() {
            accumulate_rows(d, w, |k| {
                let yy = reflect(y as isize + k, ny);
                &src[yy * nx..(yy + 1) * nx]
            });
        }
    }
}

/// Rows of y per task of the z pass: small enough that the `2r + 1` planes of a block stay in
/// cache while the block slides along z.
const Y_BLOCK: usize = 8;

/// `scipy.ndimage.gaussian_filter(input, sigma_voxels, truncate=truncate, mode="reflect")`
/// for an f32 frame (output in Fortran order). Sigmas that are not > 1e-15 (zero, negative,
/// NaN) leave their axis unfiltered, as scipy.
///
/// The z pass runs first (into the output), then x and y in place slab by slab: one output
/// buffer and no full-size temporary. scipy filters x, y, z in that order, rounding to f32
/// after each; the different order changes results by rounding only (~1e-7 relative).
///
/// ```
/// let frame = ndarray::Array3::from_shape_fn((9, 9, 9), |p| if p == (4, 4, 4) { 1.0f32 } else { 0.0 });
/// let blurred = voxflow_intensity::gaussian_filter(frame.view(), [1.0, 1.0, 0.0], 4.0);
/// assert!((blurred.sum() - 1.0).abs() < 1e-4); // the weights sum to 1
/// assert_eq!(blurred[[4, 4, 3]], 0.0); // sigma 0 along z: no blur there
/// assert_eq!(blurred[[3, 4, 4]], blurred[[5, 4, 4]]); // symmetric
/// ```
#[must_use]
pub fn gaussian_filter(input: ArrayView3<'_, f32>, sigma_voxels: [f64; 3], truncate: f64) -> Array3<f32> {
    let shape = shape3(&input);
    let [nx, _, nz] = shape;
    let [wx, wy, wz] = sigma_voxels.map(|s| half_weights(s, truncate));
    if input.is_empty() {
        return Array3::zeros(shape.f());
    }
    let src = fortran_slice(input);
    let plane = nx * shape[1];
    let mut out = match wz {
        Some(wz) => {
            // z, by blocks of y rows sliding along z. A fresh output on huge pages (see
            // `voxflow_core::memory`).
            let mut out = voxflow_core::memory::new_array::<f32>(shape);
            let src = &src[..];
            out.axis_chunks_iter_mut(Axis(1), Y_BLOCK).into_par_iter().enumerate().for_each(
                |(b, mut block)| {
                    let rows = block.shape()[1];
                    for z in 0..nz {
                        for yy in 0..rows {
                            let y = b * Y_BLOCK + yy;
                            let mut row = block.slice_mut(s![.., yy, z]);
                            let row =
                                row.as_slice_mut().expect("x is the contiguous axis of a Fortran array");
                            accumulate_rows(row, &wz, |k| {
                                let start = reflect(z as isize + k, nz) * plane + y * nx;
                                &src[start..start + nx]
                            });
                        }
                    }
                },
            );
            out
        }
        None => from_fortran(shape, src.into_owned()),
    };
    if wx.is_some() || wy.is_some() {
        let data = out.as_slice_memory_order_mut().expect("a Fortran-contiguous array");
        data.par_chunks_mut(plane).for_each_init(
            || (Vec::new(), Vec::new()),
            |(buf, scratch), slab| filter_slab_xy(slab, nx, wx.as_deref(), wy.as_deref(), buf, scratch),
        );
    }
    out
}

/// Sigma in voxels from sigma in mm and the voxel spacing.
pub(crate) fn sigma_voxels(sigma_mm: [f64; 3], spacing: [f64; 3]) -> Result<[f64; 3], IntensityError> {
    sigma_voxels_of("sigma_mm", sigma_mm, spacing)
}

/// [`sigma_voxels`] for the parameter `param` (named in the error).
pub(crate) fn sigma_voxels_of(
    param: &'static str,
    sigma_mm: [f64; 3],
    spacing: [f64; 3],
) -> Result<[f64; 3], IntensityError> {
    let mut out = [0.0; 3];
    for i in 0..3 {
        if !(spacing[i].is_finite() && spacing[i] > 0.0) {
            return Err(IntensityError::param(
                param,
                format!(
                    "the affine's voxel size along axis {i} is {}, so mm cannot be converted to voxels",
                    spacing[i]
                ),
            ));
        }
        out[i] = sigma_mm[i] / spacing[i];
    }
    Ok(out)
}

voxflow_core::op_doc!(
    "blur",
    Blur,
    "Gaussian smoothing of an image with `sigma_mm` in millimetres (one number or per axis); intensity only, the affine is kept.",
    r#"{"sigma_mm": 1.0}"#
);

/// A kernel far longer than the axis it runs along only costs time (and, for an absurd sigma,
/// memory it cannot have): the radius may be at most this many times the axis length (plus a
/// few voxels for tiny axes). At that size the blur has long since flattened the axis.
const MAX_RADIUS_PER_LENGTH: f64 = 4.0;

/// Checks the kernel radii (scipy's `int(truncate·σ + 0.5)`) against the axes they run along;
/// the error names `param`.
pub(crate) fn check_kernel(
    param: &'static str,
    sigma_voxels: [f64; 3],
    truncate: f64,
    shape: [usize; 3],
) -> Result<(), OpError> {
    for a in 0..3 {
        let radius = (truncate * sigma_voxels[a] + 0.5).floor();
        let limit = MAX_RADIUS_PER_LENGTH * shape[a] as f64 + 16.0;
        if radius.is_nan() || radius > limit {
            return Err(OpError::param(
                param,
                format!(
                    "gives a kernel radius of {radius:.3e} voxels along axis {a}, over {limit} \
                     ({MAX_RADIUS_PER_LENGTH}x the axis length of {}): use a smaller sigma",
                    shape[a]
                ),
            ));
        }
    }
    Ok(())
}

#[typetag::serde(name = "blur")]
impl Op for Blur {
    fn ports(&self) -> &'static [Port] {
        IMAGE_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        if let Some(s) = self.sigma_mm.per_axis().iter().find(|s| !(s.is_finite() && **s >= 0.0)) {
            return Err(OpError::param("sigma_mm", format!("must be finite and >= 0, got {s}")));
        }
        if !(self.truncate.is_finite() && self.truncate > 0.0) {
            return Err(OpError::param("truncate", format!("must be finite and > 0, got {}", self.truncate)));
        }
        Ok(())
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        let sigma = self.sigma_mm.per_axis();
        if sigma.iter().all(|&s| s == 0.0) {
            return Ok(Value::Volume(volume));
        }
        let sv = sigma_voxels(sigma, volume.spacing())?;
        check_kernel("sigma_mm", sv, self.truncate, volume.shape3())?;
        map_image(&volume, |_, frame| Ok(gaussian_filter(frame, sv, self.truncate)))
    }
}

impl RandomBlur {
    /// Draws the concrete op; apply it with [`Blur::apply`].
    ///
    /// ```
    /// use rand::SeedableRng;
    /// use voxflow_core::seed::Rng;
    /// use voxflow_intensity::blur::RandomBlur;
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let random = RandomBlur { std: [0.5, 1.0], ..Default::default() };
    /// let drawn = random.sample(&mut Rng::seed_from_u64(3));
    /// assert_eq!(drawn, random.sample(&mut Rng::seed_from_u64(3))); // same seed, same draw
    /// assert_eq!(drawn.apply(&volume)?.shape3(), volume.shape3());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sample(&self, rng: &mut voxflow_core::seed::Rng) -> Blur {
        let sigma =
            if happens(rng, self.p) { std::array::from_fn(|_| uniform(rng, self.std)) } else { [0.0; 3] };
        Blur { sigma_mm: Sigma::PerAxis(sigma), truncate: default_truncate() }
    }
}

voxflow_core::op_doc!(
    "random_blur",
    RandomBlur,
    "Draws a `blur` with each axis' sigma uniform in `std` mm, with probability `p`; apply the draw with `apply` to images.",
    "{}"
);

impl voxflow_core::random::RandomOp for RandomBlur {
    type Drawn = Blur;
    type Like = ();
    const APPLIES_TO: &'static [Kind] = &[Kind::Image];

    fn check(&self) -> Result<(), OpError> {
        check_p(self.p)?;
        check_nonnegative_range("std", self.std)
    }

    fn draw(&self, rng: &mut voxflow_core::seed::Rng, (): ()) -> Result<Blur, OpError> {
        Ok(self.sample(rng))
    }
}

#[typetag::serde(name = "random_blur")]
impl Op for RandomBlur {
    voxflow_core::random_op_node!(RandomBlur);
}
