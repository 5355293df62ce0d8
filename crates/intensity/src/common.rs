//! What the ops share: the voxel region statistics are computed over, frame layout helpers,
//! deterministic parallel reductions, and the node plumbing (ports, mask input, frames).

use crate::IntensityError;
use ndarray::{Array3, Array4, ArrayView3, Axis, ShapeBuilder};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;
use voxflow_core::{Inputs, Kind, OpError, Port, Value, Volume, Voxels};

/// Voxels per chunk of the parallel loops. Reductions are computed per chunk and the chunk
/// results combined in chunk order, so results do not depend on the number of threads.
pub(crate) const CHUNK: usize = 1 << 16;

/// Which voxels a statistic (percentile, mean, std, min, max) is computed over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    /// Every voxel.
    #[default]
    All,
    /// Voxels whose value is not zero (the tutorial's "mean" normalisation; nnU-Net's
    /// non-zero mask for MRI).
    Nonzero,
    /// Voxels where the `mask` input (a label map) is non-zero, or holds one of `labels`.
    Mask,
}

impl Over {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Over::All => "all",
            Over::Nonzero => "nonzero",
            Over::Mask => "mask",
        }
    }
}

/// [`Over`] with its data, for the plain kernel functions.
#[derive(Debug, Clone, Copy)]
pub enum Region<'a> {
    All,
    Nonzero,
    /// Voxels where the mask is true; same shape as the frame.
    Mask(ArrayView3<'a, bool>),
}

impl Region<'_> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Region::All => "all",
            Region::Nonzero => "nonzero",
            Region::Mask(_) => "mask",
        }
    }
}

/// A region flattened to the Fortran order of [`fortran_slice`].
#[derive(Debug, Clone)]
pub(crate) enum FlatRegion<'a> {
    All,
    Nonzero,
    Mask(Cow<'a, [bool]>),
}

impl<'a> FlatRegion<'a> {
    pub(crate) fn new(region: Region<'a>, shape: [usize; 3]) -> Result<Self, IntensityError> {
        Ok(match region {
            Region::All => FlatRegion::All,
            Region::Nonzero => FlatRegion::Nonzero,
            Region::Mask(m) => {
                if m.shape() != shape {
                    return Err(IntensityError::Mask(format!(
                        "mask shape {:?} differs from the image's {shape:?}",
                        m.shape()
                    )));
                }
                FlatRegion::Mask(fortran_slice(m))
            }
        })
    }

    /// The part of the region covering `data[start..start + len]`.
    pub(crate) fn chunk(&self, start: usize, len: usize) -> ChunkRegion<'_> {
        match self {
            FlatRegion::All => ChunkRegion::All,
            FlatRegion::Nonzero => ChunkRegion::Nonzero,
            FlatRegion::Mask(m) => ChunkRegion::Mask(&m[start..start + len]),
        }
    }
}

/// A region restricted to one chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChunkRegion<'a> {
    All,
    Nonzero,
    Mask(&'a [bool]),
}

impl ChunkRegion<'_> {
    /// Calls `f` on every voxel of `data` inside the region.
    #[inline]
    pub(crate) fn for_each(self, data: &[f32], mut f: impl FnMut(f32)) {
        match self {
            ChunkRegion::All => data.iter().for_each(|&v| f(v)),
            ChunkRegion::Nonzero => data.iter().filter(|v| **v != 0.0).for_each(|&v| f(v)),
            ChunkRegion::Mask(m) => data.iter().zip(m).filter(|(_, m)| **m).for_each(|(&v, _)| f(v)),
        }
    }
}

/// A frame's voxels in Fortran (NIfTI) order, x fastest: borrowed when the frame is laid out
/// that way (always the case for volumes read from NIfTI), copied otherwise.
pub(crate) fn fortran_slice<T: Copy>(frame: ArrayView3<'_, T>) -> Cow<'_, [T]> {
    let reversed = frame.reversed_axes();
    match reversed.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(reversed.iter().copied().collect()),
    }
}

/// An array of `shape` from voxels in Fortran order.
pub(crate) fn from_fortran<T>(shape: [usize; 3], data: Vec<T>) -> Array3<T> {
    Array3::from_shape_vec(shape.f(), data).expect("the voxel count matches the shape")
}

pub(crate) fn shape3<T>(frame: &ArrayView3<'_, T>) -> [usize; 3] {
    let s = frame.shape();
    [s[0], s[1], s[2]]
}

/// A new zeroed buffer for `len` voxels, advised to use huge pages (see
/// `voxflow_core::memory`: a 64 MB output then takes 32 page faults instead of 16k).
pub(crate) fn new_buffer(len: usize) -> Vec<f32> {
    let mut out = vec![0f32; len];
    voxflow_core::memory::advise_huge_pages(&mut out);
    out
}

/// Applies `f` to every voxel, in parallel; the output is in Fortran order.
///
/// Through [`map_voxel_slices`] (copy a block, then map it in place): mapping from the input
/// straight into the output did not vectorise when `f` captures values (the compiler cannot
/// rule out that the output aliases them, so it reloads them at every voxel).
pub(crate) fn map_voxels(frame: ArrayView3<'_, f32>, f: impl Fn(f32) -> f32 + Sync) -> Array3<f32> {
    map_voxel_slices(frame, |s| s.iter_mut().for_each(|v| *v = f(*v)))
}

/// Voxels per block of [`map_voxel_slices`]: a block is copied, then transformed while in L1.
const COPY_BLOCK: usize = 4096;

/// Like [`map_voxels`] for a function that transforms a slice of voxels in place (for maps
/// that vectorise better over blocks than voxel by voxel); the output is in Fortran order.
pub(crate) fn map_voxel_slices(frame: ArrayView3<'_, f32>, f: impl Fn(&mut [f32]) + Sync) -> Array3<f32> {
    let shape = shape3(&frame);
    let input = fortran_slice(frame);
    let mut out = new_buffer(input.len());
    out.par_chunks_mut(CHUNK).zip(input.par_chunks(CHUNK)).for_each(|(o, i)| {
        for (o, i) in o.chunks_mut(COPY_BLOCK).zip(i.chunks(COPY_BLOCK)) {
            o.copy_from_slice(i);
            f(o);
        }
    });
    from_fortran(shape, out)
}

/// Count, mean, sum of squared deviations, min and max of the finite voxels of a region, and
/// the count of non-finite voxels in it; all in f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Moments {
    pub n: u64,
    pub mean: f64,
    pub m2: f64,
    pub min: f64,
    pub max: f64,
    pub nonfinite: u64,
}

impl Moments {
    pub(crate) const EMPTY: Moments =
        Moments { n: 0, mean: 0.0, m2: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, nonfinite: 0 };

    /// Chan et al.'s pairwise combination.
    fn combine(self, b: Moments) -> Moments {
        if b.n == 0 {
            return Moments { nonfinite: self.nonfinite + b.nonfinite, ..self };
        }
        if self.n == 0 {
            return Moments { nonfinite: self.nonfinite + b.nonfinite, ..b };
        }
        let n = self.n + b.n;
        let (na, nb, nn) = (self.n as f64, b.n as f64, n as f64);
        let delta = b.mean - self.mean;
        Moments {
            n,
            mean: self.mean + delta * nb / nn,
            m2: self.m2 + b.m2 + delta * delta * na * nb / nn,
            min: self.min.min(b.min),
            max: self.max.max(b.max),
            nonfinite: self.nonfinite + b.nonfinite,
        }
    }

    /// Population (`ddof = 0`) or sample variance; `None` when `n <= ddof`.
    pub(crate) fn variance(&self, ddof: u32) -> Option<f64> {
        (self.n > u64::from(ddof)).then(|| self.m2 / (self.n - u64::from(ddof)) as f64)
    }
}

/// Independent accumulators per chunk: they break the dependency chain of a running f64 sum
/// (which no compiler may reorder) and are combined in a fixed order, so the result is still
/// the same for any number of threads.
const LANES: usize = 4;

/// One chunk: the fast pass, which assumes the region's voxels are finite, and when it finds
/// they are not (its sums are not finite), the careful pass that counts and skips them.
fn chunk_moments<const MIN_MAX: bool>(data: &[f32], region: ChunkRegion<'_>) -> Moments {
    match region {
        ChunkRegion::All => fast_moments::<MIN_MAX, false>(data, |_, _| true)
            .unwrap_or_else(|| lane_moments::<MIN_MAX>(data, |_, _| true)),
        ChunkRegion::Nonzero => fast_moments::<MIN_MAX, true>(data, |_, v| v != 0.0)
            .unwrap_or_else(|| lane_moments::<MIN_MAX>(data, |_, v| v != 0.0)),
        ChunkRegion::Mask(m) => {
            let m = &m[..data.len()];
            fast_moments::<MIN_MAX, false>(data, |i, _| m[i])
                .unwrap_or_else(|| lane_moments::<MIN_MAX>(data, |i, _| m[i]))
        }
    }
}

/// Lanes of [`fast_moments`]' f64 sums (four SSE2 registers each).
const FAST_LANES: usize = 8;

/// Voxels per block of [`fast_moments`]: its scratch fits in L1.
const STAT_BLOCK: usize = 1024;

/// The index of the first voxel inside the region; the scan goes by blocks without an early
/// exit inside a block, so it vectorises (a chunk can begin with a long run of zeros).
#[inline]
fn first_inside(data: &[f32], inside: &impl Fn(usize, f32) -> bool) -> Option<usize> {
    const SCAN: usize = 64;
    data.chunks(SCAN).enumerate().find_map(|(b, block)| {
        let base = b * SCAN;
        let any = block.iter().enumerate().fold(false, |a, (j, &v)| a | inside(base + j, v));
        if any {
            block.iter().enumerate().position(|(j, &v)| inside(base + j, v)).map(|j| base + j)
        } else {
            None
        }
    })
}

/// One pass over a chunk assuming every voxel of the region is finite: the count, and the
/// sums of `x - p` and `(x - p)²` around a pivot `p` (the region's first voxel, which keeps
/// the variance free of cancellation) in f64, and min and max if asked. `None` when a sum is
/// not finite, i.e. the region holds a NaN or an infinity (finite f32 values cannot overflow
/// an f64 sum of a chunk).
///
/// Each block of voxels goes through two loops that the compiler vectorises: the deviations
/// `x - p` in f64 with the count (into an L1 scratch), then their sums over [`FAST_LANES`]
/// lanes. A voxel outside the region counts as `p` (adding 0), or, with `ZERO_OUTSIDE` (the
/// non-zero region, whose outside is ±0), is summed as it is and the known contribution of
/// the outside (`-p` and `p²` per voxel) taken back at the end, which saves the select.
#[inline]
fn fast_moments<const MIN_MAX: bool, const ZERO_OUTSIDE: bool>(
    data: &[f32],
    inside: impl Fn(usize, f32) -> bool,
) -> Option<Moments> {
    const L: usize = FAST_LANES;
    let Some(first) = first_inside(data, &inside) else {
        return Some(Moments::EMPTY);
    };
    let pivot = data[first];
    let p = f64::from(pivot);
    // A u32 count: a chunk holds at most CHUNK voxels.
    let mut count = 0u32;
    let mut s1 = [0f64; L];
    let mut s2 = [0f64; L];
    let mut min = [pivot; L];
    let mut max = [pivot; L];
    let mut deviations = [0f64; STAT_BLOCK];
    for (b, block) in data.chunks(STAT_BLOCK).enumerate() {
        let base = b * STAT_BLOCK;
        for (j, (d, &v)) in deviations.iter_mut().zip(block).enumerate() {
            let keep = inside(base + j, v);
            count += u32::from(keep);
            *d = f64::from(if ZERO_OUTSIDE || keep { v } else { pivot }) - p;
        }
        // A short last block: the rest of the scratch adds zeros.
        deviations[block.len()..].fill(0.0);
        // Two loops: in one, the compiler pairs s1[l] with s2[l] instead of lanes.
        for d in deviations.as_chunks::<L>().0 {
            s1 = std::array::from_fn(|l| s1[l] + d[l]);
        }
        for d in deviations.as_chunks::<L>().0 {
            s2 = std::array::from_fn(|l| s2[l] + d[l] * d[l]);
        }
        if MIN_MAX {
            let (lanes, rest) = block.as_chunks::<L>();
            for (c, lanes) in lanes.iter().enumerate() {
                for (l, &v) in lanes.iter().enumerate() {
                    let w = if inside(base + c * L + l, v) { v } else { pivot };
                    min[l] = if w < min[l] { w } else { min[l] };
                    max[l] = if w > max[l] { w } else { max[l] };
                }
            }
            for (l, &v) in rest.iter().enumerate() {
                let w = if inside(base + block.len() - rest.len() + l, v) { v } else { pivot };
                min[l] = min[l].min(w);
                max[l] = max[l].max(w);
            }
        }
    }
    let mut s1 = s1.iter().fold(0.0, |a, b| a + b);
    let mut s2 = s2.iter().fold(0.0, |a, b| a + b);
    if ZERO_OUTSIDE {
        let outside = (data.len() - count as usize) as f64;
        s1 += outside * p;
        s2 -= outside * p * p;
    }
    if !(s1.is_finite() && s2.is_finite()) {
        return None;
    }
    let count = u64::from(count);
    let c = count as f64;
    let (min, max) = if MIN_MAX {
        (
            f64::from(min.into_iter().fold(f32::INFINITY, f32::min)),
            f64::from(max.into_iter().fold(f32::NEG_INFINITY, f32::max)),
        )
    } else {
        (f64::INFINITY, f64::NEG_INFINITY)
    };
    Some(Moments { n: count, mean: p + s1 / c, m2: (s2 - s1 * s1 / c).max(0.0), min, max, nonfinite: 0 })
}

/// Calls `step(lane, index, value)` for every voxel, lanes cycling through `0..LANES`.
#[inline]
fn for_lanes(data: &[f32], mut step: impl FnMut(usize, usize, f32)) {
    let blocks = data.chunks_exact(LANES);
    let rest = blocks.remainder();
    for (c, block) in blocks.enumerate() {
        for (l, &v) in block.iter().enumerate() {
            step(l, c * LANES + l, v);
        }
    }
    let base = data.len() - rest.len();
    for (l, &v) in rest.iter().enumerate() {
        step(l, base + l, v);
    }
}

/// The careful pass, for chunks with non-finite voxels in the region: per lane, the count,
/// min, max, and the sums of `x - p` and `(x - p)²` around a pivot `p` (the chunk's first
/// finite value in the region), skipping and counting the non-finite voxels.
#[inline]
fn lane_moments<const MIN_MAX: bool>(data: &[f32], inside: impl Fn(usize, f32) -> bool) -> Moments {
    let Some(pivot) = data.iter().enumerate().find(|&(i, v)| v.is_finite() && inside(i, *v)).map(|(_, &v)| v)
    else {
        let mut bad = 0u64;
        for (i, &v) in data.iter().enumerate() {
            bad += u64::from(inside(i, v));
        }
        return Moments { nonfinite: bad, ..Moments::EMPTY };
    };
    let p = f64::from(pivot);
    let mut n = [0u64; LANES];
    let mut s1 = [0f64; LANES];
    let mut s2 = [0f64; LANES];
    let mut min = [f64::INFINITY; LANES];
    let mut max = [f64::NEG_INFINITY; LANES];
    let mut bad = [0u64; LANES];
    for_lanes(data, |l, i, v| {
        let r = inside(i, v);
        let keep = r && v.is_finite();
        let x = f64::from(v);
        let d = if keep { x - p } else { 0.0 };
        n[l] += u64::from(keep);
        bad[l] += u64::from(r && !keep);
        s1[l] += d;
        s2[l] += d * d;
        if MIN_MAX {
            min[l] = if keep && x < min[l] { x } else { min[l] };
            max[l] = if keep && x > max[l] { x } else { max[l] };
        }
    });
    let count: u64 = n.iter().sum();
    let c = count as f64;
    let s1 = s1.iter().fold(0.0, |a, b| a + b);
    let s2 = s2.iter().fold(0.0, |a, b| a + b);
    Moments {
        n: count,
        mean: p + s1 / c,
        m2: (s2 - s1 * s1 / c).max(0.0),
        min: min.iter().copied().fold(f64::INFINITY, f64::min),
        max: max.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        nonfinite: bad.iter().sum(),
    }
}

/// [`Moments`] of a region, computed in parallel over fixed chunks and combined in chunk
/// order: the same bits for any number of threads. Min and max are left at ±inf unless
/// `min_max` asks for them (they cost registers in the hot loop).
pub(crate) fn moments(data: &[f32], region: &FlatRegion<'_>, min_max: bool) -> Moments {
    let parts: Vec<Moments> = data
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(c, d)| {
            let r = region.chunk(c * CHUNK, d.len());
            if min_max { chunk_moments::<true>(d, r) } else { chunk_moments::<false>(d, r) }
        })
        .collect();
    parts.into_iter().fold(Moments::EMPTY, Moments::combine)
}

// ---------------------------------------------------------------------------------------------
// Node plumbing.

/// The optional `mask` input of ops that compute statistics.
pub(crate) const MASK_PORT: Port = Port { name: "mask", accepts: &[Kind::Label], required: false };
pub(crate) const IMAGE_PORTS: &[Port] = &[Port::IMAGE];
pub(crate) const IMAGE_MASK_PORTS: &[Port] = &[Port::IMAGE, MASK_PORT];

/// Takes the `volume` input and checks that it is an image.
pub(crate) fn take_image(inputs: &mut Inputs) -> Result<Arc<Volume>, OpError> {
    let volume = inputs.volume("volume")?;
    if let Voxels::Label(_) = volume.voxels {
        return Err(OpError::Input {
            port: "volume".into(),
            message: "intensity ops take an image, got a label map".into(),
        });
    }
    Ok(volume)
}

/// The `mask` input as booleans `[x, y, z, t]` (label != 0, or label in `labels`), checked
/// against the image's grid. `None` when not connected.
pub(crate) fn take_mask(
    inputs: &mut Inputs,
    image: &Volume,
    labels: Option<&[i64]>,
) -> Result<Option<Array4<bool>>, OpError> {
    if !inputs.0.contains_key("mask") {
        return Ok(None);
    }
    let mask = inputs.volume("mask")?;
    let label_array =
        mask.labels().map_err(|e| OpError::Input { port: "mask".into(), message: e.to_string() })?;
    let [x, y, z, t] = mask.shape4();
    let [ix, iy, iz, it] = image.shape4();
    if [x, y, z] != [ix, iy, iz] || (t != 1 && t != it) {
        return Err(OpError::Input {
            port: "mask".into(),
            message: format!("mask shape {:?} does not fit the image's {:?}", mask.shape4(), image.shape4()),
        });
    }
    if (mask.affine - image.affine).abs().max() > 1e-3 {
        return Err(OpError::Input {
            port: "mask".into(),
            message: "the mask's affine differs from the image's: resample it onto the image's grid first"
                .into(),
        });
    }
    // The labels crate owns what a label mask is (`label != 0`, or one of `labels`).
    Ok(Some(voxflow_labels::mask(label_array, labels)))
}

/// The mask's frame for image frame `t` (a one-frame mask serves every frame).
pub(crate) fn mask_frame(mask: Option<&Array4<bool>>, t: usize) -> Option<ArrayView3<'_, bool>> {
    mask.map(|m| m.index_axis(Axis(3), t.min(m.shape()[3] - 1)))
}

/// Runs `f` on every frame of an image and assembles the output volume (same affine, stored
/// as float32).
pub(crate) fn map_image(
    volume: &Volume,
    f: impl Fn(usize, ArrayView3<'_, f32>) -> Result<Array3<f32>, IntensityError>,
) -> Result<Value, OpError> {
    let data = volume.image()?;
    let mut frames =
        data.axis_iter(Axis(3)).enumerate().map(|(t, fr)| f(t, fr)).collect::<Result<Vec<_>, _>>()?;
    let out = if frames.len() == 1 {
        frames.pop().expect("one frame").insert_axis(Axis(3))
    } else {
        voxflow_core::volume::stack_frames(&frames)
    };
    Ok(Value::Volume(Arc::new(Volume {
        voxels: Voxels::Image(out),
        affine: volume.affine,
        stored_dtype: voxflow_core::DType::F32,
    })))
}

/// Runs an elementwise op on every frame: `prepare(t, frame)` computes frame `t`'s per-voxel
/// function (statistics first), which is then applied in place when the volume is not shared
/// with another node (no allocation, no page faults), or into a new array otherwise.
pub(crate) fn map_image_voxels<F: Fn(f32) -> f32 + Sync>(
    volume: Arc<Volume>,
    prepare: impl Fn(usize, ArrayView3<'_, f32>) -> Result<F, IntensityError>,
) -> Result<Value, OpError> {
    map_image_slices(volume, |t, frame| {
        let f = prepare(t, frame)?;
        Ok(move |s: &mut [f32]| s.iter_mut().for_each(|v| *v = f(*v)))
    })
}

/// [`map_image_voxels`] for a function that transforms a slice of voxels in place.
pub(crate) fn map_image_slices<F: Fn(&mut [f32]) + Sync>(
    volume: Arc<Volume>,
    prepare: impl Fn(usize, ArrayView3<'_, f32>) -> Result<F, IntensityError>,
) -> Result<Value, OpError> {
    volume.image()?;
    match Arc::try_unwrap(volume) {
        Ok(mut owned) => {
            let Voxels::Image(data) = &mut owned.voxels else {
                return Err(OpError::Input { port: "volume".into(), message: "expected an image".into() });
            };
            for t in 0..data.shape()[3] {
                let f = prepare(t, data.index_axis(Axis(3), t))?;
                let mut frame = data.index_axis_mut(Axis(3), t);
                match frame.as_slice_memory_order_mut() {
                    Some(s) => s.par_chunks_mut(CHUNK).for_each(&f),
                    None => frame.par_map_inplace(|v| f(std::slice::from_mut(v))),
                }
            }
            owned.stored_dtype = voxflow_core::DType::F32;
            Ok(Value::Volume(Arc::new(owned)))
        }
        Err(shared) => map_image(&shared, |t, frame| Ok(map_voxel_slices(frame, prepare(t, frame)?))),
    }
}

pub(crate) use voxflow_core::params::{check_p, check_range};

/// A value uniform in `[low, high]`.
pub(crate) fn uniform(rng: &mut voxflow_core::seed::Rng, r: [f64; 2]) -> f64 {
    use rand::RngExt;
    if r[0] == r[1] { r[0] } else { rng.random_range(r[0]..=r[1]) }
}

/// Whether a draw with probability `p` happens.
pub(crate) fn happens(rng: &mut voxflow_core::seed::Rng, p: f64) -> bool {
    use rand::RngExt;
    rng.random_bool(p)
}

pub(crate) fn default_p() -> f64 {
    1.0
}

/// The region of frame `t` for `over`, checking that a mask is connected exactly when
/// `over` is `mask`.
pub(crate) fn region_for(
    over: Over,
    mask: Option<&Array4<bool>>,
    t: usize,
) -> Result<Region<'_>, IntensityError> {
    match (over, mask_frame(mask, t)) {
        (Over::All, None) => Ok(Region::All),
        (Over::Nonzero, None) => Ok(Region::Nonzero),
        (Over::Mask, Some(m)) => Ok(Region::Mask(m)),
        (Over::Mask, None) => {
            Err(IntensityError::Mask("`over` is \"mask\" but no mask input is connected".into()))
        }
        (other, Some(_)) => Err(IntensityError::Mask(format!(
            "a mask is connected but `over` is \"{}\": set it to \"mask\"",
            other.name()
        ))),
    }
}
