//! The field generators on their own: accuracy of the fast smoothing against the exact
//! Gaussian, statistics against the tutorial's scipy method, determinism across thread counts,
//! and the control grid's physical units.

#![allow(clippy::unwrap_used)] // tests: a failure is the panic

use ndarray::{Array3, ArrayView3, Axis, s};
use voxflow_elastic::simard::{coarse_step, simard_noise, smooth};
use voxflow_elastic::{ControlGridParams, SimardParams, control_grid_field, simard_field};

/// Exact `scipy.ndimage.gaussian_filter(input, sigma, mode="constant", cval=0)` (truncate 4),
/// by direct separable convolution: the reference the fast path is measured against.
fn exact_gaussian(input: ArrayView3<'_, f32>, sigma: f64) -> Array3<f64> {
    let radius = (4.0 * sigma + 0.5) as isize;
    let kernel: Vec<f64> =
        (-radius..=radius).map(|k| (-0.5 * (k * k) as f64 / (sigma * sigma)).exp()).collect();
    let total: f64 = kernel.iter().sum();
    let kernel: Vec<f64> = kernel.iter().map(|k| k / total).collect();
    let mut a = input.mapv(f64::from);
    for axis in 0..3 {
        let mut out = Array3::<f64>::zeros(a.raw_dim());
        for (inl, mut outl) in a.lanes(Axis(axis)).into_iter().zip(out.lanes_mut(Axis(axis))) {
            let n = inl.len() as isize;
            for i in 0..n {
                let mut acc = 0.0;
                for (k, w) in kernel.iter().enumerate() {
                    let j = i + k as isize - radius;
                    if (0..n).contains(&j) {
                        acc += w * inl[j as usize];
                    }
                }
                outl[i as usize] = acc;
            }
        }
        a = out;
    }
    a
}

fn rms(a: impl IntoIterator<Item = f64>) -> f64 {
    let (sum, n) = a.into_iter().fold((0.0, 0usize), |(s, n), v| (s + v * v, n + 1));
    (sum / n as f64).sqrt()
}

/// Relative RMS error of the fast smoothing against the exact filter on the same noise.
fn approximation_error(n: usize, sigma: f64) -> f64 {
    let noise = simard_noise([n, n, n], 11);
    let noise = noise.index_axis(Axis(3), 0);
    let fast = smooth(noise, sigma, 1.0);
    let exact = exact_gaussian(noise, sigma);
    let err = rms(fast.iter().zip(&exact).map(|(&f, &e)| f64::from(f) - e));
    err / rms(exact.iter().copied())
}

#[test]
fn approximation_error_vs_exact_gaussian_small_sigma_is_exact() {
    // sigma < 4: step 1, scipy's own kernel.
    assert_eq!(coarse_step(2.5), 1);
    let e = approximation_error(24, 2.5);
    assert!(e < 1e-6, "relative RMS error {e}");
}

#[test]
fn approximation_error_vs_exact_gaussian() {
    // (size, sigma, stated bound on the relative RMS error)
    for (n, sigma, bound) in [(40, 4.0, 0.035), (40, 8.0, 0.012), (48, 12.0, 0.015), (40, 20.0, 0.05)] {
        let e = approximation_error(n, sigma);
        println!("n {n} sigma {sigma} step {}: relative RMS error {e:.4}", coarse_step(sigma));
        assert!(e < bound, "sigma {sigma}: relative RMS error {e} > {bound}");
    }
}

/// Correlation of `f` with itself shifted by `lag` voxels along `axis`.
fn autocorrelation(f: ArrayView3<'_, f32>, lag: usize, axis: usize) -> f64 {
    let n = f.shape()[axis];
    let a = f.slice_axis(Axis(axis), (0..n - lag).into());
    let b = f.slice_axis(Axis(axis), (lag..n).into());
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (&x, &y) in a.iter().zip(b.iter()) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa * bb).sqrt()
}

#[test]
fn field_statistics_match_the_tutorial() {
    // The tutorial's field, `gaussian_filter(rng.random(shape) * 2 - 1, sigma, mode="constant",
    // cval=0)` with alpha 1, over 16 numpy seeds x 3 components (48 fields):
    // (size, sigma, mean RMS, mean autocorrelation at lag sigma averaged over the three axes).
    // Computed with numpy 2.4 / scipy 1.17; the spread of one field's RMS is 7.6 %, 18.6 %,
    // 19.2 % and of its autocorrelation 0.022, 0.045, 0.055, so the means of 48 fields carry
    // about 1.1 %, 2.7 %, 2.8 % and 0.003, 0.007, 0.008 of sampling error each.
    let expected = [
        (40, 4.0, 0.009_953_054, 0.786_947),
        (48, 8.0, 0.003_298_827, 0.789_156),
        (64, 12.0, 0.001_728_654, 0.789_459),
    ];
    // Tolerances: about 3 combined standard errors.
    let rms_tolerance = [0.05, 0.12, 0.12];
    for ((n, sigma, rms_ref, corr_ref), rms_tol) in expected.into_iter().zip(rms_tolerance) {
        let mut rms_sum = 0.0;
        let mut corr_sum = 0.0;
        let mut count = 0.0;
        for seed in 0..16 {
            let field = simard_field([n, n, n], &SimardParams { alpha: 1.0, sigma }, seed).unwrap();
            for c in 0..3 {
                let f = field.index_axis(Axis(3), c);
                rms_sum += rms(f.iter().map(|&v| f64::from(v)));
                corr_sum += (0..3).map(|a| autocorrelation(f, sigma as usize, a)).sum::<f64>() / 3.0;
                count += 1.0;
            }
        }
        let (rms_mean, corr_mean) = (rms_sum / count, corr_sum / count);
        println!(
            "sigma {sigma}: rms {rms_mean:.6} (tutorial {rms_ref}), corr {corr_mean:.4} (tutorial {corr_ref})"
        );
        assert!((rms_mean / rms_ref - 1.0).abs() < rms_tol, "sigma {sigma}: rms {rms_mean} vs {rms_ref}");
        assert!(
            (corr_mean - corr_ref).abs() < 0.03,
            "sigma {sigma}: autocorrelation {corr_mean} vs {corr_ref}"
        );
    }
}

#[test]
fn field_depends_on_the_seed_only_not_on_the_thread_count() {
    let params = SimardParams { alpha: 300.0, sigma: 9.0 };
    let grid = ControlGridParams::default();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| {
            (
                simard_field([37, 29, 23], &params, 5).unwrap(),
                control_grid_field([37, 29, 23], [1.0, 1.5, 3.0], &grid, 5).unwrap(),
            )
        })
    };
    let (a1, b1) = run(1);
    let (a2, b2) = run(2);
    let bytes = |a: &ndarray::Array4<f32>| a.iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(bytes(&a1), bytes(&a2));
    assert_eq!(bytes(&b1), bytes(&b2));
    // And a different seed gives a different field.
    let other = simard_field([37, 29, 23], &params, 6).unwrap();
    assert_ne!(bytes(&a1), bytes(&other));
}

#[test]
fn alpha_zero_and_zero_displacement_give_zero_fields() {
    let f = simard_field([9, 8, 7], &SimardParams { alpha: 0.0, sigma: 5.0 }, 1).unwrap();
    assert!(f.iter().all(|&v| v == 0.0));
    let p = ControlGridParams { max_displacement: [0.0; 3], ..ControlGridParams::default() };
    let f = control_grid_field([9, 8, 7], [1.0; 3], &p, 1).unwrap();
    assert!(f.iter().all(|&v| v == 0.0));
}

#[test]
fn control_grid_is_in_millimetres() {
    // Same draw on an isotropic 1 mm grid and on a 1 x 2 x 4 mm grid of the same voxel count:
    // the displacement in voxels scales by 1 / spacing along each axis.
    let p = ControlGridParams::default();
    let iso = control_grid_field([20, 20, 20], [1.0, 1.0, 1.0], &p, 3).unwrap();
    let aniso = control_grid_field([20, 20, 20], [1.0, 2.0, 4.0], &p, 3).unwrap();
    for (c, scale) in [(0, 1.0f32), (1, 0.5), (2, 0.25)] {
        for (a, b) in iso.index_axis(Axis(3), c).iter().zip(aniso.index_axis(Axis(3), c)) {
            assert!((a * scale - b).abs() <= 1e-6 * a.abs().max(1.0));
        }
    }
    // A B-spline is a convex combination of its coefficients: never beyond max_displacement.
    let max = iso.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(max > 0.5 && max <= 7.5, "max displacement {max}");
}

#[test]
fn control_grid_locked_borders_keep_the_corners_nearly_still() {
    // With 7 points and 2 locked per side, only the middle 3 move; at a voxel on the border the
    // B-spline weight left on them is at most 1/6 per axis.
    let p = ControlGridParams::default();
    let f = control_grid_field([31, 31, 31], [1.0; 3], &p, 9).unwrap();
    let corner = f.slice(s![0, 0, 0, ..]);
    let bound = 7.5 / 6.0f32.powi(3) + 1e-5;
    assert!(corner.iter().all(|v| v.abs() <= bound), "corner {corner}");
    let p = ControlGridParams { num_control_points: [4, 4, 4], ..p };
    let f = control_grid_field([10, 10, 10], [1.0; 3], &p, 9).unwrap();
    assert!(f.iter().all(|&v| v == 0.0), "all 4 control points locked");
}

#[test]
fn invalid_parameters_are_errors_naming_the_parameter() {
    let e = simard_field([4, 4, 4], &SimardParams { alpha: 1.0, sigma: -1.0 }, 0).unwrap_err();
    assert!(e.to_string().contains("`sigma`"), "{e}");
    let e = simard_field([4, 4, 4], &SimardParams { alpha: f64::NAN, sigma: 1.0 }, 0).unwrap_err();
    assert!(e.to_string().contains("`alpha`"), "{e}");
    let p = ControlGridParams { num_control_points: [3, 7, 7], ..ControlGridParams::default() };
    let e = control_grid_field([4, 4, 4], [1.0; 3], &p, 0).unwrap_err();
    assert!(e.to_string().contains("`num_control_points`"), "{e}");
    let e = control_grid_field([4, 4, 4], [0.0, 1.0, 1.0], &ControlGridParams::default(), 0).unwrap_err();
    assert!(e.to_string().contains("`spacing`"), "{e}");
    // Empty and one-voxel grids do not panic.
    assert_eq!(simard_field([0, 3, 3], &SimardParams { alpha: 1.0, sigma: 9.0 }, 0).unwrap().len(), 0);
    assert!(simard_field([1, 1, 1], &SimardParams { alpha: 1.0, sigma: 9.0 }, 0).is_ok());
    assert!(control_grid_field([1, 1, 1], [1.0; 3], &ControlGridParams::default(), 0).is_ok());
}
