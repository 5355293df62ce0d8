//! scipy.ndimage's boundary modes, per axis: which input samples an interpolation window reads.
//!
//! scipy (ni_interpolation.c) first maps an out-of-range coordinate back into the grid for the
//! `wrap` mode (whose period is `len - 1`, scipy's quirk), decides whether the point is outside
//! altogether for `constant` (outside `[0, len - 1]`: the fill value; voxflow, unlike scipy, counts
//! a coordinate within [`EDGE_TOLERANCE`] of the edge as on it), and then extends
//! the window's indices past the edge according to the mode: `constant` and `wrap` mirror,
//! `mirror` mirrors (whole sample), `reflect` reflects (half sample), `nearest` repeats the edge,
//! `grid-wrap` is periodic and `grid-constant` reads the fill value.

use voxflow_core::BoundaryMode;

/// How far (in voxels) a coordinate may lie outside `[0, len - 1]` and still count as on the
/// edge. A voxel matrix built from an oblique affine and its inverse carries ~1e-15 of
/// rounding, so a coordinate that is exactly 0 or `len - 1` lands just outside; scipy's strict
/// bounds would then give the fill value for a whole boundary slice. 1e-6 voxel is far above
/// that rounding (even after composing a chain of steps over 10^4 voxels) and far below any
/// intended sub-voxel shift: moving a sample by it changes an interpolated value by at most
/// 1e-6 of the local voxel-to-voxel difference.
pub const EDGE_TOLERANCE: f64 = 1e-6;

/// Marks a window sample that reads the fill value (grid-constant).
pub(crate) const FILL: isize = isize::MIN;

/// One input axis: its length, its stride in the input buffer and the boundary mode.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AxisRule {
    pub(crate) len: usize,
    pub(crate) stride: isize,
    pub(crate) mode: BoundaryMode,
}

impl AxisRule {
    /// Maps an index that may lie outside `[0, len)` to the offset of the sample it reads, or
    /// [`FILL`].
    #[inline]
    #[must_use]
    pub(crate) fn offset(&self, idx: isize) -> isize {
        let len = self.len as isize;
        if (0..len).contains(&idx) {
            return idx * self.stride;
        }
        let mapped = match self.mode {
            BoundaryMode::GridConstant => return FILL,
            BoundaryMode::Nearest => idx.clamp(0, len - 1),
            BoundaryMode::Reflect => {
                let period = 2 * len;
                let i = idx.rem_euclid(period);
                if i >= len { period - 1 - i } else { i }
            }
            BoundaryMode::Constant | BoundaryMode::Mirror | BoundaryMode::Wrap => {
                if len <= 1 {
                    0
                } else {
                    let period = 2 * len - 2;
                    let i = idx.rem_euclid(period);
                    if i >= len { period - i } else { i }
                }
            }
            BoundaryMode::GridWrap => idx.rem_euclid(len),
        };
        mapped * self.stride
    }

    /// Maps a coordinate as scipy does before interpolating (ni_interpolation.c's
    /// `map_coordinate`, including its truncating integer divisions). `None`: the point is
    /// outside and takes the fill value (mode `constant`, or a NaN coordinate).
    #[must_use]
    #[inline]
    pub(crate) fn map_coordinate(&self, c: f64) -> Option<f64> {
        let len = self.len as f64;
        let last = len - 1.0;
        if c >= 0.0 && c <= last {
            return Some(c);
        }
        if c.is_nan() {
            return None;
        }
        // `constant`: on the edge within rounding ([`EDGE_TOLERANCE`]) is on the edge, not
        // outside (the fill value). The other modes are continuous there, or (scipy's `wrap`
        // quirk) define what lies just outside, so they keep scipy's rule.
        if self.mode == BoundaryMode::Constant {
            if (-EDGE_TOLERANCE..0.0).contains(&c) {
                return Some(0.0);
            }
            if c > last && c <= last + EDGE_TOLERANCE {
                return Some(last);
            }
        }
        let short = self.len <= 1;
        let mapped = if c < 0.0 {
            match self.mode {
                BoundaryMode::Constant => return None,
                BoundaryMode::GridConstant => c,
                BoundaryMode::Nearest => 0.0,
                _ if short => 0.0,
                BoundaryMode::Mirror => {
                    let sz2 = 2.0 * len - 2.0;
                    let c = sz2 * (-c / sz2).trunc() + c;
                    if c <= 1.0 - len { c + sz2 } else { -c }
                }
                BoundaryMode::Reflect => {
                    let sz2 = 2.0 * len;
                    let c = if c < -sz2 { sz2 * (-c / sz2).trunc() + c } else { c };
                    if c < -len { c + sz2 } else { (if c > -1e-15 { 1e-15 } else { -c }) - 1.0 }
                }
                BoundaryMode::Wrap => c + last * ((-c / last).trunc() + 1.0),
                BoundaryMode::GridWrap => c + len * (((-1.0 - c) / len).trunc() + 1.0),
            }
        } else {
            match self.mode {
                BoundaryMode::Constant => return None,
                BoundaryMode::GridConstant => c,
                BoundaryMode::Nearest => last,
                _ if short => 0.0,
                BoundaryMode::Mirror => {
                    let sz2 = 2.0 * len - 2.0;
                    let c = c - sz2 * (c / sz2).trunc();
                    if c >= len { sz2 - c } else { c }
                }
                BoundaryMode::Reflect => {
                    let sz2 = 2.0 * len;
                    let c = c - sz2 * (c / sz2).trunc();
                    if c >= len { sz2 - c - 1.0 } else { c }
                }
                BoundaryMode::Wrap => c - last * (c / last).trunc(),
                BoundaryMode::GridWrap => c - len * (c / len).trunc(),
            }
        };
        Some(mapped)
    }

    /// Whether a window `[start, start + n)` lies inside the axis (no boundary handling needed).
    #[inline]
    #[must_use]
    pub(crate) fn inside(&self, start: isize, n: isize) -> bool {
        start >= 0 && start + n <= self.len as isize
    }
}

/// The order-0 sample: scipy rounds half up (`floor(c + 0.5)`).
#[inline]
#[must_use]
pub(crate) fn nearest_index(c: f64) -> isize {
    (c + 0.5).floor() as isize
}

/// The linear window: its first index and weights.
#[inline]
#[must_use]
pub(crate) fn linear_window(c: f64) -> (isize, [f64; 2]) {
    let f = c.floor();
    let t = c - f;
    (f as isize, [1.0 - t, t])
}

/// The cubic B-spline window: its first index and weights.
#[inline]
#[must_use]
pub(crate) fn cubic_window(c: f64) -> (isize, [f64; 4]) {
    let f = c.floor();
    let t = c - f;
    let u = 1.0 - t;
    let t2 = t * t;
    let t3 = t2 * t;
    (
        f as isize - 1,
        [
            u * u * u / 6.0,
            (3.0 * t3 - 6.0 * t2 + 4.0) / 6.0,
            (-3.0 * t3 + 3.0 * t2 + 3.0 * t + 1.0) / 6.0,
            t3 / 6.0,
        ],
    )
}
