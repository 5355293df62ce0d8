//! Deterministic, vectorised statistics of a region: count, mean, variance, min and max of
//! the finite voxels, in f64, computed per chunk in parallel and combined in chunk order.

use crate::frame::CHUNK;
use crate::region::{ChunkRegion, FlatRegion};
use rayon::prelude::*;

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
