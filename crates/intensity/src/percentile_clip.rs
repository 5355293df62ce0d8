//! `percentile_clip`: clips intensities to two percentiles of the image, as
//! `numpy.clip(x, *numpy.percentile(x, [lower, upper]))`.
//!
//! ```json
//! {"name": "clipped", "op": "percentile_clip", "params": {"lower": 5, "upper": 95}, "inputs": {"volume": "image"}}
//! {"name": "clipped", "op": "percentile_clip", "params": {"lower": 0.5, "upper": 99.5, "over": "mask"},
//!  "inputs": {"volume": "image", "mask": "brain"}}
//! ```
//!
//! The percentiles are numpy's default (`method="linear"`) exactly: for `n` voxels the value
//! sits at virtual index `i = (n - 1) · q/100` of the sorted voxels, and between the voxels
//! `a = s[⌊i⌋]` and `b = s[⌊i⌋ + 1]` it is numpy's `_lerp`: `a + (b - a)·g` for `g < 0.5`,
//! `b - (b - a)·(1 - g)` otherwise (`b - a` in f32, the rest in f64), `g = i - ⌊i⌋`.
//!
//! No sort: two parallel histogram passes over the order-preserving bit pattern of the
//! floats (the high 16 bits, then the low 16 bits inside the few bins that hold the wanted
//! ranks) find the exact order statistics in O(n). NaN voxels are left out (as
//! `numpy.nanpercentile`; `numpy.percentile` would return NaN and clip everything to NaN).

use crate::IntensityError;
use crate::clip::clip_one;
use crate::frame::{CHUNK, fortran_slice, map_voxels, shape3};
use crate::node::{IMAGE_MASK_PORTS, map_image_voxels, region_for, take_image, take_mask};
use crate::region::{FlatRegion, Over, Region};
use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use voxflow_core::{Inputs, Op, OpError, Port, RunContext, Value, Volume};

/// Parameters of `percentile_clip`.
///
/// ```
/// use voxflow_intensity::percentile_clip::PercentileClip;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let clipped = PercentileClip { lower: 0.0, upper: 50.0, ..Default::default() }.apply(&volume)?;
/// let image = clipped.image()?;
/// assert_eq!((image[[0, 0, 0, 0]], image[[7, 7, 7, 0]]), (0.0, 10.5)); // the median of 0..=21
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PercentileClip {
    /// Lower percentile, in percent (0..100). Default 5 (the tutorial's).
    #[serde(default = "default_lower")]
    pub lower: f64,
    /// Upper percentile, in percent; must be greater than `lower`. Default 95.
    #[serde(default = "default_upper")]
    pub upper: f64,
    /// Voxels the percentiles are computed over: `all` (default, as numpy), `nonzero`, or
    /// `mask` (the `mask` input). Every voxel is clipped either way.
    #[serde(default)]
    pub over: Over,
    /// With `over: mask`: the labels that make up the mask (default: every non-zero label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<i64>>,
}

fn default_lower() -> f64 {
    5.0
}
fn default_upper() -> f64 {
    95.0
}

/// The graph's defaults: clip to the 5th and 95th percentiles of all voxels.
impl Default for PercentileClip {
    fn default() -> Self {
        PercentileClip { lower: default_lower(), upper: default_upper(), over: Over::All, labels: None }
    }
}

impl PercentileClip {
    /// Clips an image to two of its percentiles: the `percentile_clip` node on `volume`, in
    /// one call.
    ///
    /// Its statistics are over all voxels or the non-zero ones here: `over: mask` needs the
    /// `mask` input, which a graph or the facade's `voxflow::apply_with` connects.
    ///
    /// ```
    /// use voxflow_intensity::percentile_clip::PercentileClip;
    /// use voxflow_intensity::{Region, percentiles};
    /// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
    /// let clipped = PercentileClip::default().apply(&volume)?;
    /// let frame = volume.image()?.index_axis(ndarray::Axis(3), 0);
    /// let q = percentiles(frame, &[5.0, 95.0], Region::All)?;
    /// assert!(clipped.image()?.iter().all(|&v| (q[0]..=q[1]).contains(&f64::from(v))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, volume: &Volume) -> Result<Volume, OpError> {
        voxflow_core::run_on_volume(self, volume)
    }
}

pub(crate) fn check_percentiles(lower: f64, upper: f64) -> Result<(), IntensityError> {
    for (name, q) in [("lower", lower), ("upper", upper)] {
        if !(0.0..=100.0).contains(&q) {
            return Err(IntensityError::param(name, format!("a percentile must be in [0, 100], got {q}")));
        }
    }
    if lower >= upper {
        return Err(IntensityError::param("upper", format!("must be > lower ({lower}), got {upper}")));
    }
    Ok(())
}

/// Clips a frame to its `lower` and `upper` percentiles computed over `region`
/// (`numpy.clip(x, *numpy.percentile(x[region], [lower, upper]))`).
///
/// ```
/// use voxflow_intensity::{Region, percentile_clip};
/// let frame = ndarray::Array3::from_shape_fn((5, 1, 1), |(i, _, _)| i as f32); // 0, 1, 2, 3, 4
/// let clipped = percentile_clip(frame.view(), 25.0, 75.0, Region::All)?;
/// assert_eq!(clipped.iter().copied().collect::<Vec<_>>(), [1.0, 1.0, 2.0, 3.0, 3.0]);
/// # Ok::<(), voxflow_intensity::IntensityError>(())
/// ```
pub fn percentile_clip(
    input: ArrayView3<'_, f32>,
    lower: f64,
    upper: f64,
    region: Region<'_>,
) -> Result<Array3<f32>, IntensityError> {
    Ok(map_voxels(input, clip_fn(input, lower, upper, region)?))
}

/// The percentiles of `input` over `region`, as the per-voxel clip.
fn clip_fn(
    input: ArrayView3<'_, f32>,
    lower: f64,
    upper: f64,
    region: Region<'_>,
) -> Result<impl Fn(f32) -> f32 + Sync + use<>, IntensityError> {
    check_percentiles(lower, upper)?;
    let flat_region = FlatRegion::new(region, shape3(&input))?;
    let q = flat_percentiles(&fortran_slice(input), &flat_region, &[lower, upper], region.name())?;
    let (lo, hi) = (q[0] as f32, q[1] as f32);
    Ok(move |v| clip_one(v, lo, hi))
}

/// numpy's `percentile(x[region], qs)` (default linear method), NaN voxels left out; `qs` in
/// percent.
///
/// ```
/// use voxflow_intensity::{Region, percentiles};
/// let frame = ndarray::Array3::from_shape_fn((4, 1, 1), |(i, _, _)| i as f32); // 0, 1, 2, 3
/// assert_eq!(percentiles(frame.view(), &[0.0, 50.0, 100.0], Region::All)?, [0.0, 1.5, 3.0]);
/// assert_eq!(percentiles(frame.view(), &[0.0], Region::Nonzero)?, [1.0]);
/// # Ok::<(), voxflow_intensity::IntensityError>(())
/// ```
pub fn percentiles(
    input: ArrayView3<'_, f32>,
    qs: &[f64],
    region: Region<'_>,
) -> Result<Vec<f64>, IntensityError> {
    if let Some(q) = qs.iter().find(|q| !(0.0..=100.0).contains(*q)) {
        return Err(IntensityError::param("q", format!("a percentile must be in [0, 100], got {q}")));
    }
    let flat_region = FlatRegion::new(region, shape3(&input))?;
    flat_percentiles(&fortran_slice(input), &flat_region, qs, region.name())
}

const BINS: usize = 1 << 16;

/// The float's bits, mapped so that integer order is the floats' total order.
#[inline]
fn key(v: f32) -> u32 {
    let b = v.to_bits();
    if b & 0x8000_0000 == 0 { b | 0x8000_0000 } else { !b }
}

#[inline]
fn from_key(k: u32) -> f32 {
    if k & 0x8000_0000 == 0 { f32::from_bits(!k) } else { f32::from_bits(k & 0x7fff_ffff) }
}

fn add_hist(mut a: Vec<u32>, b: Vec<u32>) -> Vec<u32> {
    for (a, b) in a.iter_mut().zip(&b) {
        *a += b;
    }
    a
}

/// Voxels per pass of [`histogram`]: its u32 counts cannot overflow.
const HIST_BLOCK: usize = 1 << 31;

/// A histogram of `f(key)` over the region's non-NaN voxels, in parallel; integer counts, so
/// the order of the merge does not matter. Counts are u32 (half the cache of u64) within
/// blocks of [`HIST_BLOCK`] voxels.
fn histogram(
    data: &[f32],
    region: &FlatRegion<'_>,
    len: usize,
    f: impl Fn(u32) -> Option<usize> + Sync,
) -> Vec<u64> {
    let mut total = vec![0u64; len];
    for (b, block) in data.chunks(HIST_BLOCK).enumerate() {
        let h = block
            .par_chunks(CHUNK)
            .enumerate()
            .fold(
                || vec![0u32; len],
                |mut h, (c, d)| {
                    region.chunk(b * HIST_BLOCK + c * CHUNK, d.len()).for_each(d, |v| {
                        if !v.is_nan()
                            && let Some(i) = f(key(v))
                        {
                            h[i] += 1;
                        }
                    });
                    h
                },
            )
            .reduce(|| vec![0u32; len], add_hist);
        for (t, c) in total.iter_mut().zip(h) {
            *t += u64::from(c);
        }
    }
    total
}

/// Exact order statistics (0-based ranks among the region's non-NaN voxels) by two histogram
/// passes; `coarse` is the first pass (the histogram of the high 16 bits).
fn order_statistics(data: &[f32], region: &FlatRegion<'_>, coarse: &[u64], ranks: &[u64]) -> Vec<f32> {
    // For each rank: its bin and its rank inside the bin.
    let mut located = Vec::with_capacity(ranks.len());
    for &r in ranks {
        let mut before = 0u64;
        let mut bin = BINS - 1;
        for (b, &c) in coarse.iter().enumerate() {
            if before + c > r {
                bin = b;
                break;
            }
            before += c;
        }
        located.push((bin, r - before));
    }
    let mut bins: Vec<usize> = located.iter().map(|&(b, _)| b).collect();
    bins.sort_unstable();
    bins.dedup();
    let mut slot = vec![u8::MAX; BINS];
    for (s, &b) in bins.iter().enumerate() {
        slot[b] = s as u8;
    }
    let fine = histogram(data, region, bins.len() * BINS, |k| {
        let s = slot[(k >> 16) as usize];
        (s != u8::MAX).then(|| usize::from(s) * BINS + (k & 0xffff) as usize)
    });
    located
        .iter()
        .map(|&(bin, r)| {
            let s = usize::from(slot[bin]);
            let h = &fine[s * BINS..(s + 1) * BINS];
            let mut before = 0u64;
            let mut low = BINS - 1;
            for (l, &c) in h.iter().enumerate() {
                if before + c > r {
                    low = l;
                    break;
                }
                before += c;
            }
            from_key(((bin as u32) << 16) | low as u32)
        })
        .collect()
}

/// numpy's linear percentiles of the region's non-NaN voxels of `data` (Fortran order).
pub(crate) fn flat_percentiles(
    data: &[f32],
    region: &FlatRegion<'_>,
    qs: &[f64],
    over: &'static str,
) -> Result<Vec<f64>, IntensityError> {
    let coarse = histogram(data, region, BINS, |k| Some((k >> 16) as usize));
    let n: u64 = coarse.iter().sum();
    if n == 0 {
        return Err(IntensityError::EmptyRegion { what: "percentiles", over });
    }
    // numpy: virtual index v = (n - 1) * (q / 100); previous = floor(v), next = previous + 1;
    // when v >= n - 1 both become the last element and previous is -1 for the fraction.
    let last = n - 1;
    let plan: Vec<(u64, u64, f64)> = qs
        .iter()
        .map(|&q| {
            let v = last as f64 * (q / 100.0);
            if v >= last as f64 {
                (last, last, v - (-1.0))
            } else {
                let p = v.floor();
                (p as u64, p as u64 + 1, v - p)
            }
        })
        .collect();
    let mut ranks: Vec<u64> = plan.iter().flat_map(|&(a, b, _)| [a, b]).collect();
    ranks.sort_unstable();
    ranks.dedup();
    let values = order_statistics(data, region, &coarse, &ranks);
    let at = |r: u64| values[ranks.binary_search(&r).expect("every rank was asked for")];
    Ok(plan.iter().map(|&(p, nx, g)| lerp(at(p), at(nx), g)).collect())
}

/// numpy's `_lerp(a, b, t)` for f32 `a`, `b` and an f64 fraction.
fn lerp(a: f32, b: f32, t: f64) -> f64 {
    let diff = f64::from(b - a);
    if t >= 0.5 { f64::from(b) - diff * (1.0 - t) } else { f64::from(a) + diff * t }
}

voxflow_core::op_doc!(
    "percentile_clip",
    PercentileClip,
    "Clips image intensities to the `lower` and `upper` percentiles (computed over all voxels, the non-zero ones or a mask); intensity only.",
    "{}"
);

#[typetag::serde(name = "percentile_clip")]
impl Op for PercentileClip {
    fn ports(&self) -> &'static [Port] {
        IMAGE_MASK_PORTS
    }

    fn validate(&self) -> Result<(), OpError> {
        Ok(check_percentiles(self.lower, self.upper)?)
    }

    fn run(&self, _ctx: &mut RunContext<'_>, mut inputs: Inputs) -> Result<Value, OpError> {
        self.validate()?;
        let volume = take_image(&mut inputs)?;
        let mask = take_mask(&mut inputs, &volume, self.labels.as_deref())?;
        map_image_voxels(volume, |t, frame| {
            clip_fn(frame, self.lower, self.upper, region_for(self.over, mask.as_ref(), t)?)
        })
    }
}
