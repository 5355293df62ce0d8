//! Which world axis each voxel axis runs along: nibabel's `io_orientation`, the one
//! implementation every voxflow crate uses (`graphrun info`'s orientation code, the `reorient`
//! op, the preview's canonical view).
//!
//! This is nibabel **5.4.2**'s `nibabel/orientations.py` (`io_orientation`, `ornt2axcodes`,
//! `aff2axcodes`), step for step, for a 4x4 affine:
//!
//! 1. `RZS` is the affine's 3x3 part; each column is divided by its norm (a zero column is
//!    left as it is);
//! 2. the closest shear-free matrix by polar decomposition: `RS = P·diag(S)·Qs` (SVD),
//!    `R = P[:, keep]·Qs[keep]` where `keep = S > tol` and the default
//!    `tol = max(S) · max(RS.shape) · eps` (`3 · max(S) · f64::EPSILON` here);
//! 3. the voxel axes are visited from the strongest to the weakest, strength being the largest
//!    `|R|` of the column (nibabel's `argsort(min(-(R**2), axis=0), kind='stable')`, so equal
//!    strengths keep axis order); a column that is all within 1e-8 of zero (`np.allclose(col,
//!    0)`) is dropped (nibabel: a `[nan, nan]` row, `None` here); otherwise the voxel axis is
//!    given the world axis of the column's largest `|R|` (the first on ties, `np.argmax`),
//!    flipped when that entry is negative, and that world axis's row of `R` is zeroed so no
//!    later voxel axis can take it.
//!
//! Before 5.4.0 nibabel visited the voxel axes in index order (0, 1, 2); the two differ on
//! oblique affines whose columns compete for one world axis (nibabel PR "BF - Fix
//! io_orientation to process input axes by strength", Dec 2025). Like numpy's SVD, a
//! non-finite `RS` is an error.
//!
//! The SVD is nalgebra's general (bidiagonalisation + implicit-shift QR) one, not its 3x3
//! shortcut through the eigenvectors of `RSᵀ·RS`, which loses half the digits of the small
//! singular values and so misjudges the rank. The result equals nibabel's on every case of
//! `crates/core/tests/data/orientation_sweep.json` whose answer is not decided by rounding
//! noise (see `scripts/make_orientation_reference.py`).

use crate::Affine;
use nalgebra::{DMatrix, Matrix3, Matrix4};
use thiserror::Error;

/// The nibabel release whose `io_orientation` this module reproduces.
pub const NIBABEL_VERSION: &str = "5.4.2";

/// nibabel's default labels: `(negative end, positive end)` of world axes x, y, z (RAS+).
pub const RAS_LABELS: [[char; 2]; 3] = [['L', 'R'], ['P', 'A'], ['I', 'S']];

/// Why no orientation could be read from an affine.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrientationError {
    /// numpy's SVD refuses it too (`LinAlgError`).
    #[error("the affine's 3x3 part has a non-finite entry")]
    NonFinite,
    /// The singular value decomposition did not converge.
    #[error("the singular value decomposition of the affine's 3x3 part did not converge")]
    NoConvergence,
    /// nibabel gives this axis `[nan, nan]`: no world direction (a zero column, or the
    /// column's direction was already taken by a stronger axis).
    #[error("voxel axis {axis} has no world direction of its own (zero or degenerate affine column)")]
    DroppedAxis { axis: usize },
}

/// One row of nibabel's `ornt` array: the world axis a voxel axis runs along most closely, and
/// whether it runs against it (nibabel's `-1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AxisOrientation {
    /// 0, 1 or 2: world x, y or z.
    pub axis: usize,
    /// The voxel axis runs from the positive to the negative end of the world axis.
    pub flip: bool,
}

/// nibabel's `ornt` for the three voxel axes; `None` is a dropped axis (`[nan, nan]`).
pub type Ornt = [Option<AxisOrientation>; 3];

/// nibabel's `io_orientation(affine)` with the default tolerance.
pub fn io_orientation(affine: &Affine) -> Result<Ornt, OrientationError> {
    io_orientation_with_tol(affine, None)
}

/// nibabel's `io_orientation(affine, tol)`: singular values `<= tol` count as zero (`None`: the
/// default, `max(S) · 3 · eps`).
pub fn io_orientation_with_tol(affine: &Affine, tol: Option<f64>) -> Result<Ornt, OrientationError> {
    let mut r = closest_rotation(affine, tol)?;
    // np.argsort(np.min(-(R**2), axis=0), kind='stable')
    let key = |c: usize| (0..3).map(|i| -(r[(i, c)] * r[(i, c)])).fold(f64::INFINITY, f64::min);
    let keys: [f64; 3] = std::array::from_fn(key);
    let mut order = [0usize, 1, 2];
    order.sort_by(|&a, &b| keys[a].total_cmp(&keys[b]));
    let mut ornt: Ornt = [None; 3];
    for in_ax in order {
        let col: [f64; 3] = std::array::from_fn(|i| r[(i, in_ax)]);
        // np.allclose(col, 0): |col| <= 1e-8 + 1e-5 * 0
        if col.iter().all(|v| v.abs() <= 1e-8) {
            continue;
        }
        // np.argmax(np.abs(col)): the first maximum
        let mut out_ax = 0;
        for i in 1..3 {
            if col[i].abs() > col[out_ax].abs() {
                out_ax = i;
            }
        }
        ornt[in_ax] = Some(AxisOrientation { axis: out_ax, flip: col[out_ax] < 0.0 });
        r.row_mut(out_ax).fill(0.0);
    }
    Ok(ornt)
}

/// The polar factor `R` of the normalised 3x3 part, as nibabel computes it.
fn closest_rotation(affine: &Affine, tol: Option<f64>) -> Result<Matrix3<f64>, OrientationError> {
    let mut rs: Matrix3<f64> = affine.fixed_view::<3, 3>(0, 0).into_owned();
    for c in 0..3 {
        // np.sqrt(np.sum(RZS * RZS, axis=0)), summed in row order
        let zoom = (rs[(0, c)] * rs[(0, c)] + rs[(1, c)] * rs[(1, c)] + rs[(2, c)] * rs[(2, c)]).sqrt();
        let zoom = if zoom == 0.0 { 1.0 } else { zoom };
        for i in 0..3 {
            rs[(i, c)] /= zoom;
        }
    }
    if rs.iter().any(|v| !v.is_finite()) {
        return Err(OrientationError::NonFinite);
    }
    // A dynamic matrix takes nalgebra's general SVD (see the module doc).
    let svd = DMatrix::from_column_slice(3, 3, rs.as_slice())
        .try_svd(true, true, f64::EPSILON, 10_000)
        .ok_or(OrientationError::NoConvergence)?;
    let (Some(u), Some(v_t)) = (svd.u, svd.v_t) else { return Err(OrientationError::NoConvergence) };
    let s = svd.singular_values;
    let tol = tol.unwrap_or_else(|| s.max() * 3.0 * f64::EPSILON);
    let mut r = Matrix3::zeros();
    for k in 0..3 {
        if s[k] > tol {
            for i in 0..3 {
                for j in 0..3 {
                    r[(i, j)] += u[(i, k)] * v_t[(k, j)];
                }
            }
        }
    }
    Ok(r)
}

/// nibabel's `ornt2axcodes(ornt, labels)`: the label of the world end each voxel axis points
/// to; `None` for a dropped axis.
#[must_use]
pub fn ornt_to_axcodes(ornt: &Ornt, labels: &[[char; 2]; 3]) -> [Option<char>; 3] {
    ornt.map(|o| o.map(|o| labels[o.axis][usize::from(!o.flip)]))
}

/// nibabel's `aff2axcodes(affine)` with the RAS labels, e.g. `[Some('L'), Some('P'),
/// Some('S')]`.
pub fn aff_to_axcodes(affine: &Affine) -> Result<[Option<char>; 3], OrientationError> {
    Ok(ornt_to_axcodes(&io_orientation(affine)?, &RAS_LABELS))
}

/// A complete orientation (no dropped axis): input voxel axis `i` runs along world axis
/// `axis[i]`, against it when `flip[i]`. Reordering the voxel axes so that axis `i` becomes
/// axis `axis[i]`, reversed when `flip[i]`, gives the closest canonical (RAS+) voxel order
/// (nibabel's `as_closest_canonical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Orientation {
    pub axis: [usize; 3],
    pub flip: [bool; 3],
}

impl Orientation {
    /// Already RAS+.
    pub const IDENTITY: Orientation = Orientation { axis: [0, 1, 2], flip: [false; 3] };

    /// [`io_orientation`] of an affine, which must not drop an axis.
    pub fn of(affine: &Affine) -> Result<Orientation, OrientationError> {
        Orientation::from_ornt(&io_orientation(affine)?)
    }

    /// From nibabel's `ornt`; an error names the first dropped axis.
    pub fn from_ornt(ornt: &Ornt) -> Result<Orientation, OrientationError> {
        let mut out = Orientation::IDENTITY;
        for (i, o) in ornt.iter().enumerate() {
            let o = o.ok_or(OrientationError::DroppedAxis { axis: i })?;
            out.axis[i] = o.axis;
            out.flip[i] = o.flip;
        }
        Ok(out)
    }

    /// The axis codes with the RAS labels, e.g. `['L', 'P', 'S']`.
    #[must_use]
    pub fn axcodes(&self) -> [char; 3] {
        std::array::from_fn(|i| RAS_LABELS[self.axis[i]][usize::from(!self.flip[i])])
    }

    /// `source_axis()[w]` is the voxel axis running along world axis `w`.
    #[must_use]
    pub fn source_axis(&self) -> [usize; 3] {
        let mut out = [0; 3];
        for (i, &w) in self.axis.iter().enumerate() {
            out[w] = i;
        }
        out
    }

    /// The output shape for an input of `shape`.
    #[must_use]
    pub fn shape(&self, shape: [usize; 3]) -> [usize; 3] {
        let mut out = [0; 3];
        for i in 0..3 {
            out[self.axis[i]] = shape[i];
        }
        out
    }

    /// Output voxel index to input voxel index (nibabel's `inv_ornt_aff`), for an input of
    /// `shape`: the reoriented affine is `affine · index_matrix`.
    #[must_use]
    pub fn index_matrix(&self, shape: [usize; 3]) -> Matrix4<f64> {
        let mut m = Matrix4::zeros();
        m[(3, 3)] = 1.0;
        for i in 0..3 {
            let o = self.axis[i];
            if self.flip[i] {
                m[(i, o)] = -1.0;
                m[(i, 3)] = shape[i] as f64 - 1.0;
            } else {
                m[(i, o)] = 1.0;
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn affine(rows: [[f64; 3]; 3]) -> Affine {
        let mut a = Affine::identity();
        for (r, row) in rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                a[(r, c)] = *v;
            }
        }
        a
    }

    fn codes(a: &Affine) -> String {
        aff_to_axcodes(a).expect("finite").iter().map(|c| c.unwrap_or('?')).collect()
    }

    #[test]
    fn nibabel_doc_examples() {
        assert_eq!(codes(&Affine::identity()), "RAS");
        assert_eq!(codes(&affine([[0., 1., 0.], [-1., 0., 0.], [0., 0., 1.]])), "PRS");
        assert_eq!(codes(&affine([[-2., 0., 0.], [0., -2., 0.], [0., 0., 2.]])), "LPS");
        let labels = [['L', 'R'], ['B', 'F'], ['D', 'U']];
        let ornt = io_orientation(&affine([[0., 1., 0.], [-1., 0., 0.], [0., 0., 1.]])).expect("finite");
        assert_eq!(ornt_to_axcodes(&ornt, &labels), [Some('B'), Some('R'), Some('U')]);
    }

    #[test]
    #[allow(clippy::unreadable_literal)] // copied digit for digit from nibabel's test
    fn strongest_axis_first_as_in_nibabel_5_4() {
        // nibabel's test_io_orientation_column_strength_regression: [[2, -1], [1, 1], [0, 1]].
        let a = affine([
            [2.08759499e00, 7.70245194e-02, 1.12271041e-01],
            [-1.04219818e00, 1.58019245e-01, -5.34135476e-02],
            [-2.33361936e00, -1.66752085e-03, 1.24289364e-01],
        ]);
        assert_eq!(codes(&a), "IAR");
        let o = Orientation::of(&a).expect("complete");
        assert_eq!(o, Orientation { axis: [2, 1, 0], flip: [true, false, false] });
        assert_eq!(o.source_axis(), [2, 1, 0]);
        assert_eq!(o.axcodes(), ['I', 'A', 'R']);
    }

    #[test]
    fn degenerate_affines() {
        assert_eq!(codes(&Affine::zeros()), "???");
        assert_eq!(codes(&affine([[1., 0., 0.], [0., 0., 0.], [0., 0., 1.]])), "R?S");
        assert_eq!(
            Orientation::of(&affine([[1., 0., 0.], [0., 0., 0.], [0., 0., 1.]])),
            Err(OrientationError::DroppedAxis { axis: 1 })
        );
        let mut nan = Affine::identity();
        nan[(0, 0)] = f64::NAN;
        assert_eq!(io_orientation(&nan), Err(OrientationError::NonFinite));
        nan[(0, 0)] = f64::INFINITY;
        assert_eq!(io_orientation(&nan), Err(OrientationError::NonFinite));
    }

    #[test]
    fn index_matrix_keeps_world_positions() {
        let o = Orientation { axis: [2, 0, 1], flip: [true, false, true] };
        assert_eq!(o.shape([4, 5, 6]), [5, 6, 4]);
        let m = o.index_matrix([4, 5, 6]);
        // Output voxel (0, 0, 0) is input voxel (3, 0, 5).
        let v = m * nalgebra::Vector4::new(0.0, 0.0, 0.0, 1.0);
        assert_eq!([v[0], v[1], v[2]], [3.0, 0.0, 5.0]);
    }
}
