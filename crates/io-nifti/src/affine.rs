//! The affine of a NIfTI header, computed exactly as nibabel does: sform rows, the qform
//! quaternion (`fillpositive` + `quat2mat` + pixdim scaling with `qfac`), the fallback
//! `shape_zoom_affine`, and back (`set_qform`'s polar decomposition + `mat2quat`). Also
//! nibabel's `aff2axcodes` (through `voxflow_core::orientation`). Nothing here panics, whatever the numbers.

use nalgebra::{Matrix3, Matrix4};
use voxflow_core::Affine;

/// nibabel's `fillpositive`: the unit quaternion `(w, b, c, d)` with `w >= 0`. `w` is 0 when
/// `1 - (b² + c² + d²)` is within `threshold` of 0; an error when it is more negative.
pub fn fill_positive(bcd: [f64; 3], threshold: f64) -> Result<[f64; 4], String> {
    let [b, c, d] = bcd;
    let w2 = 1.0 - (b * b + c * c + d * d);
    if w2.abs() < threshold.abs() {
        Ok([0.0, b, c, d])
    } else if w2 < 0.0 {
        Err(format!("quaternion (b, c, d) = ({b}, {c}, {d}) has b²+c²+d² > 1 (w² = {w2:e})"))
    } else if w2.is_nan() {
        Err(format!("quaternion (b, c, d) = ({b}, {c}, {d}) is not finite"))
    } else {
        Ok([w2.sqrt(), b, c, d])
    }
}

/// nibabel's `quat2mat`: the rotation matrix of a (not necessarily unit) quaternion; identity
/// for a (near) zero quaternion.
#[must_use]
pub fn quat_to_mat(q: [f64; 4]) -> Matrix3<f64> {
    let [w, x, y, z] = q;
    let nq = w * w + x * x + y * y + z * z;
    if nq < f64::EPSILON {
        return Matrix3::identity();
    }
    let s = 2.0 / nq;
    let (xs, ys, zs) = (x * s, y * s, z * s);
    let (wx, wy, wz) = (w * xs, w * ys, w * zs);
    let (xx, xy, xz) = (x * xs, x * ys, x * zs);
    let (yy, yz, zz) = (y * ys, y * zs, z * zs);
    Matrix3::new(
        1.0 - (yy + zz),
        xy - wz,
        xz + wy,
        xy + wz,
        1.0 - (xx + zz),
        yz - wx,
        xz - wy,
        yz + wx,
        1.0 - (xx + yy),
    )
}

/// nibabel's `Nifti1Header.get_qform`: rotation from the quaternion, times
/// `diag(pixdim[1], pixdim[2], pixdim[3] * qfac)`, plus the offsets. `pixdim` and `qfac` must
/// already be fixed as nibabel fixes them on load (see [`crate::header`]).
pub fn quaternion_to_affine(
    bcd: [f64; 3],
    qfac: f64,
    pixdim: [f64; 3],
    offset: [f64; 3],
    threshold: f64,
) -> Result<Affine, String> {
    let q = fill_positive(bcd, threshold)?;
    let r = quat_to_mat(q);
    let scale = Matrix3::from_diagonal(&nalgebra::Vector3::new(pixdim[0], pixdim[1], pixdim[2] * qfac));
    let m = r * scale;
    let mut out = Matrix4::identity();
    out.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
    for (i, o) in offset.iter().enumerate() {
        out[(i, 3)] = *o;
    }
    Ok(out)
}

/// nibabel's `shape_zoom_affine(shape, zooms, x_flip=True)` (the "base" affine used when
/// neither sform nor qform is set): the first three axes, padded with 1, x flipped, centred.
#[must_use]
pub fn base_affine(shape: &[usize], zooms: &[f64]) -> Affine {
    let mut s = [1.0f64; 3];
    let mut z = [1.0f64; 3];
    for i in 0..3.min(shape.len()).min(zooms.len()) {
        s[i] = shape[i] as f64;
        z[i] = zooms[i];
    }
    z[0] = -z[0];
    let mut out = Matrix4::identity();
    for i in 0..3 {
        out[(i, i)] = z[i];
        out[(i, 3)] = -((s[i] - 1.0) / 2.0) * z[i];
    }
    out
}

/// The qform fields of an affine, as nibabel's `set_qform` computes them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Qform {
    /// quatern_b, quatern_c, quatern_d.
    pub bcd: [f64; 3],
    /// qoffset_x, y, z.
    pub offset: [f64; 3],
    /// `pixdim[0]`: 1 or -1.
    pub qfac: f64,
    /// pixdim[1..=3]: the column norms.
    pub zooms: [f64; 3],
    /// Whether the affine is exactly a rotation, zooms and a translation (no shear), so the
    /// qform represents it (to nibabel's `allclose`).
    pub exact: bool,
}

/// nibabel's `set_qform` decomposition: zooms are the column norms, `qfac` makes the rotation
/// proper, the closest orthogonal matrix (polar decomposition by SVD) becomes a quaternion with
/// `w >= 0` (nibabel's `mat2quat`, largest eigenvector of the Bar-Itzhack matrix). `None`
/// when the affine is degenerate (a zero column, or a non-finite entry).
#[must_use]
pub fn affine_to_qform(affine: &Affine) -> Option<Qform> {
    if affine.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let rzs: Matrix3<f64> = affine.fixed_view::<3, 3>(0, 0).into_owned();
    let zooms: [f64; 3] = std::array::from_fn(|c| rzs.column(c).norm());
    if zooms.contains(&0.0) {
        return None;
    }
    let mut r = rzs;
    for (c, zoom) in zooms.iter().enumerate() {
        let mut col = r.column_mut(c);
        col /= *zoom;
    }
    let qfac = if r.determinant() > 0.0 {
        1.0
    } else {
        let mut col = r.column_mut(2);
        col *= -1.0;
        -1.0
    };
    let svd = r.svd(true, true);
    let (u, v_t) = (svd.u?, svd.v_t?);
    let pr = u * v_t;
    let exact = pr.iter().zip(r.iter()).all(|(a, b)| (a - b).abs() <= 1e-8 + 1e-5 * b.abs());
    let q = mat_to_quat(&pr)?;
    Some(Qform {
        bcd: [q[1], q[2], q[3]],
        offset: [affine[(0, 3)], affine[(1, 3)], affine[(2, 3)]],
        qfac,
        zooms,
        exact,
    })
}

/// nibabel's `mat2quat`: `(w, x, y, z)` with `w >= 0`.
fn mat_to_quat(m: &Matrix3<f64>) -> Option<[f64; 4]> {
    let (qxx, qyx, qzx) = (m[(0, 0)], m[(0, 1)], m[(0, 2)]);
    let (qxy, qyy, qzy) = (m[(1, 0)], m[(1, 1)], m[(1, 2)]);
    let (qxz, qyz, qzz) = (m[(2, 0)], m[(2, 1)], m[(2, 2)]);
    let lower = [
        [qxx - qyy - qzz, 0.0, 0.0, 0.0],
        [qyx + qxy, qyy - qxx - qzz, 0.0, 0.0],
        [qzx + qxz, qzy + qyz, qzz - qxx - qyy, 0.0],
        [qyz - qzy, qzx - qxz, qxy - qyx, qxx + qyy + qzz],
    ];
    let k = Matrix4::from_fn(|i, j| if j <= i { lower[i][j] / 3.0 } else { lower[j][i] / 3.0 });
    let eig = k.symmetric_eigen();
    let best = (0..4).max_by(|&a, &b| eig.eigenvalues[a].total_cmp(&eig.eigenvalues[b]))?;
    let v = eig.eigenvectors.column(best);
    let mut q = [v[3], v[0], v[1], v[2]];
    if q[0] < 0.0 {
        q = q.map(|x| -x);
    }
    Some(q)
}

/// nibabel's `aff2axcodes(affine)` with the default labels: for each voxel axis, the world
/// direction its positive end points to (`R`/`L`, `A`/`P`, `S`/`I`), from
/// [`voxflow_core::orientation`] (nibabel 5.4.2's `io_orientation`). An axis with no direction
/// (nibabel: `None`) gets `'?'`, and so do all three when the affine is not finite (nibabel
/// raises).
#[must_use]
pub fn orientation_code(affine: &Affine) -> [char; 3] {
    voxflow_core::orientation::aff_to_axcodes(affine)
        .map_or(['?'; 3], |codes| codes.map(|c| c.unwrap_or('?')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qform_round_trip_of_an_oblique_flipped_affine() {
        let rot = nalgebra::Rotation3::from_euler_angles(0.1, -0.2, 0.3).into_inner();
        let mut a = Matrix4::identity();
        let m = rot * Matrix3::from_diagonal(&nalgebra::Vector3::new(2.0, 3.0, -4.0));
        a.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
        a[(0, 3)] = 10.0;
        a[(1, 3)] = -20.0;
        a[(2, 3)] = 5.0;
        let q = affine_to_qform(&a).expect("regular affine");
        assert!(q.exact);
        assert_eq!(q.qfac, -1.0);
        let back = quaternion_to_affine(q.bcd, q.qfac, q.zooms, q.offset, 1e-12).expect("unit quaternion");
        assert!((back - a).abs().max() < 1e-12, "{back} vs {a}");
    }

    #[test]
    fn orientation_codes_match_nibabel() {
        let ras = Matrix4::identity();
        assert_eq!(orientation_code(&ras), ['R', 'A', 'S']);
        let lps = Matrix4::from_diagonal(&nalgebra::Vector4::new(-1.0, -1.0, 1.0, 1.0));
        assert_eq!(orientation_code(&lps), ['L', 'P', 'S']);
        // nibabel doc example: [[0,1,0,10],[-1,0,0,20],[0,0,1,30],[0,0,0,1]] -> ('P', 'R', 'S')
        let a = Matrix4::new(0., 1., 0., 10., -1., 0., 0., 20., 0., 0., 1., 30., 0., 0., 0., 1.);
        assert_eq!(orientation_code(&a), ['P', 'R', 'S']);
        assert_eq!(orientation_code(&Matrix4::zeros()), ['?', '?', '?']);
    }

    #[test]
    fn base_affine_is_nibabels_shape_zoom_affine() {
        // nibabel: shape_zoom_affine((3, 5, 7), (3, 2, 1)) ->
        // [[-3, 0, 0, 3], [0, 2, 0, -4], [0, 0, 1, -3], [0, 0, 0, 1]]
        let a = base_affine(&[3, 5, 7], &[3.0, 2.0, 1.0]);
        let e = Matrix4::new(-3., 0., 0., 3., 0., 2., 0., -4., 0., 0., 1., -3., 0., 0., 0., 1.);
        assert_eq!(a, e);
    }

    #[test]
    fn bad_quaternion_is_an_error_not_a_panic() {
        assert!(quaternion_to_affine([1.0, 1.0, 0.0], 1.0, [1.0; 3], [0.0; 3], 1e-7).is_err());
        assert!(quaternion_to_affine([f64::NAN, 0.0, 0.0], 1.0, [1.0; 3], [0.0; 3], 1e-7).is_err());
        assert!(fill_positive([1.0, 0.0, 0.0], 1e-7).is_ok());
    }
}
