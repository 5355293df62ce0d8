//! reorient and resample_to_spacing against nibabel (`as_closest_canonical`,
//! `resample_to_output`), on the sample data and synthetic volumes. Expected values were
//! computed with nibabel 5.4 and are embedded here.

use nalgebra::{Matrix4, Vector4};
use ndarray::{Array3, Axis, ShapeBuilder};
use voxflow_core::{Affine, Kind, OpError, Volume, Voxels};
use voxflow_geometry::reorient::{Orientation, Reorient};
use voxflow_geometry::resample_to_spacing::{Oblique, ResampleToSpacing};
use voxflow_geometry::spatial::Resampling;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn read(name: &str, kind: Kind) -> Volume {
    voxflow_io_nifti::read(format!("{DATA}{name}"), kind).expect("sample file")
}

fn affine(rows: [[f64; 4]; 4]) -> Affine {
    Matrix4::from_fn(|r, c| rows[r][c])
}

fn assert_affine(got: &Affine, expected: [[f64; 4]; 4]) {
    let e = affine(expected);
    assert!((got - e).abs().max() < 1e-5, "affine\n{got}\n!= expected\n{e}");
}

/// Σ v · (x + 7y + 13z) over every frame: the same checksum as the Python that made the
/// expected values, sensitive to where each value sits.
fn checksum(v: &Volume) -> f64 {
    let Voxels::Image(a) = &v.voxels else { panic!("image expected") };
    a.indexed_iter().map(|((x, y, z, _), &v)| f64::from(v) * (x + 7 * y + 13 * z) as f64).sum()
}

#[test]
fn reorient_matches_nibabel_on_las_and_oblique_samples() {
    // (file, canonical shape, canonical affine, checksum of the canonical data)
    type Case = (&'static str, [usize; 4], [[f64; 4]; 4], f64);
    let cases: [Case; 2] = [
        (
            "anatomical.nii",
            [33, 41, 25, 1],
            [[2.0, 0.0, 0.0, -32.0], [0.0, 2.0, 0.0, -40.0], [0.0, 0.0, 2.0, -16.0], [0.0, 0.0, 0.0, 1.0]],
            88_227_182_335.0,
        ),
        (
            "example4d.nii.gz",
            [128, 96, 24, 2],
            [
                [2.0, 0.0, 0.0, -136.144_897_460_937_5],
                [0.0, 1.973_711_490_631_103_5, -0.355_528_235_435_485_84, -35.722_942_352_294_92],
                [0.0, 0.323_207_616_806_030_3, 2.171_081_781_387_329, -7.248_798_370_361_327],
                [0.0, 0.0, 0.0, 1.0],
            ],
            54_032_924_415.0,
        ),
    ];
    for (name, shape, expected, sum) in cases {
        let v = read(name, Kind::Image);
        let out = Reorient {}.apply(&v).expect("reorient");
        assert_eq!(out.shape4(), shape, "{name}");
        assert_affine(&out.affine, expected);
        assert_eq!(checksum(&out), sum, "{name}");
        assert_eq!(out.stored_dtype, v.stored_dtype);
    }
}

#[test]
fn an_oblique_ras_volume_is_left_as_it_is() {
    // someones_epi is RAS+ with a ~17 degree tilt: nibabel returns it unchanged.
    let v = read("someones_epi.nii.gz", Kind::Image);
    assert_eq!(Orientation::of(&v.affine), Ok(Orientation::IDENTITY));
    assert_eq!(Reorient {}.apply(&v).expect("reorient"), v);
}

#[test]
fn reorient_matches_nibabel_on_a_permuted_oblique_grid() {
    // Voxel axes pointing I, R, P (then tilted 10 degrees about x); data arange(120) in C order.
    let a = affine([
        [0.0, 3.0, 0.0, 10.0],
        [0.260_472_266_500_395_5, 0.0, -1.969_615_506_024_416, 14.486_709_730_236_25],
        [-1.477_211_629_518_312, 0.0, -0.347_296_355_333_860_66, 33.017_196_143_704_844],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let o = Orientation::of(&a).expect("orientation");
    // nibabel io_orientation: [[2, -1], [0, 1], [1, -1]]
    assert_eq!(o, Orientation { axis: [2, 0, 1], flip: [true, false, true] });
    for fortran in [false, true] {
        let mut data = Array3::<f32>::zeros([4, 5, 6].set_f(fortran));
        for ((x, y, z), v) in data.indexed_iter_mut() {
            *v = (x * 30 + y * 6 + z) as f32;
        }
        let out = Reorient {}.apply(&Volume::image3(data, a)).expect("reorient");
        assert_eq!(out.shape4(), [5, 6, 4, 1]);
        assert_affine(
            &out.affine,
            [
                [3.0, 0.0, 0.0, 10.0],
                [0.0, 1.969_615_506_024_416, -0.260_472_266_500_395_5, 5.420_048_999_615_355],
                [0.0, 0.347_296_355_333_860_66, 1.477_211_629_518_312, 26.849_079_478_480_604],
                [0.0, 0.0, 0.0, 1.0],
            ],
        );
        assert_eq!(checksum(&out), 218_950.0);
        assert_eq!(out.image().expect("image")[[1, 2, 3, 0]], 9.0);
        // Every voxel keeps its world position: value v sat at input index (x, y, z).
        for ((i, j, k, _), &v) in out.image().expect("image").indexed_iter() {
            let v = v as usize;
            let input = Vector4::new((v / 30) as f64, (v / 6 % 5) as f64, (v % 6) as f64, 1.0);
            let output = Vector4::new(i as f64, j as f64, k as f64, 1.0);
            assert!((a * input - out.affine * output).norm() < 1e-9);
        }
    }
}

#[test]
fn reorient_keeps_labels_exact() {
    let v = read("anatomical.nii", Kind::Image);
    let labels = v.image().expect("image").index_axis(Axis(3), 0).mapv(|x| (x.max(0.0) as i32 / 1000) as u8);
    let l = Volume::label3(labels.clone(), v.affine);
    let out = Reorient {}.apply(&l).expect("reorient");
    assert_eq!(out.dtype(), voxflow_core::DType::U8);
    // LAS -> RAS is a flip of x.
    let flipped = voxflow_geometry::flip::flip(labels.view(), 0);
    assert_eq!(out.voxels, Volume::label3(flipped, out.affine).voxels);
}

#[test]
fn singular_affine_is_an_error() {
    let v =
        Volume::image3(Array3::zeros([2, 2, 2]), Matrix4::from_diagonal(&Vector4::new(1.0, 0.0, 1.0, 1.0)));
    assert!(Reorient {}.apply(&v).is_err());
}

fn to_spacing(spacing: [f64; 3], oblique: Oblique) -> ResampleToSpacing {
    // nibabel's `resample_to_output` fills with `cval=0`.
    ResampleToSpacing {
        spacing,
        oblique,
        resampling: Resampling { fill: voxflow_core::Fill::Value(0.0), ..Resampling::default() },
    }
}

#[test]
fn resample_to_spacing_matches_nibabel_resample_to_output() {
    // (file, spacing, mode, nibabel shape, nibabel affine, sum of nibabel's order-1 output)
    let ras = |s: [f64; 3], o: [f64; 3]| {
        [[s[0], 0.0, 0.0, o[0]], [0.0, s[1], 0.0, o[1]], [0.0, 0.0, s[2], o[2]], [0.0, 0.0, 0.0, 1.0]]
    };
    let cases = [
        (
            "someones_anatomy.nii.gz",
            [2.0, 3.0, 4.0],
            Oblique::KeepOrientation,
            [78, 62, 39],
            ras([2.0, 3.0, 4.0], [-78.0, -91.0, -91.0]),
            8_445_622.074_662_209,
        ),
        (
            "someones_anatomy.nii.gz",
            [2.0, 3.0, 4.0],
            Oblique::ToOutputSpace,
            [78, 62, 39],
            ras([2.0, 3.0, 4.0], [-78.0, -91.0, -91.0]),
            8_445_622.074_662_209,
        ),
        (
            "someones_epi.nii.gz",
            [2.0, 2.0, 2.0],
            Oblique::ToOutputSpace,
            [79, 102, 74],
            ras([2.0, 2.0, 2.0], [-78.0, -104.369_939_804_077_15, -64.0]),
            // nibabel's sum is 15_856_024.50; voxels that pull from within one voxel outside the
            // input differ (resampling core's `constant` border): checked on the interior below.
            f64::NAN,
        ),
        (
            "anatomical.nii",
            [3.0, 3.0, 3.0],
            Oblique::ToOutputSpace,
            [23, 28, 17],
            ras([3.0, 3.0, 3.0], [-32.0, -40.0, -16.0]),
            85_070_030.25,
        ),
    ];
    for (name, spacing, oblique, shape, expected, sum) in cases {
        let v = read(name, Kind::Image);
        let out = to_spacing(spacing, oblique).apply(&v).expect("resample");
        assert_eq!(out.shape3(), shape, "{name} {oblique:?}");
        assert_affine(&out.affine, expected);
        if sum.is_nan() {
            continue;
        }
        let (got, _, _) = voxflow_core::volume::stats_f32(out.image().expect("image"));
        assert!((got - sum).abs() <= 1e-4 * sum.abs(), "{name} {oblique:?}: sum {got} != nibabel {sum}");
    }
}

#[test]
fn oblique_to_output_space_matches_nibabel_inside_the_input() {
    let v = read("someones_epi.nii.gz", Kind::Image);
    let out = to_spacing([2.0, 2.0, 2.0], Oblique::ToOutputSpace).apply(&v).expect("resample");
    let to_input = v.affine.try_inverse().expect("invertible") * out.affine;
    let n = v.shape3();
    let (mut sum, mut count) = (0.0f64, 0usize);
    for ((i, j, k, _), &x) in out.image().expect("image").indexed_iter() {
        let p = to_input * Vector4::new(i as f64, j as f64, k as f64, 1.0);
        if (0..3).all(|c| p[c] >= 1.0 && p[c] <= n[c] as f64 - 2.0) {
            sum += f64::from(x);
            count += 1;
        }
    }
    // nibabel resample_to_output(order=1), same mask (source at least one voxel inside).
    assert_eq!(count, 293_475);
    let expected = 14_428_843.449_728_966;
    assert!((sum - expected).abs() <= 1e-4 * expected, "interior sum {sum} != nibabel {expected}");
}

#[test]
fn keep_orientation_keeps_a_las_grid() {
    let v = read("anatomical.nii", Kind::Image);
    let out = to_spacing([3.0, 3.0, 3.0], Oblique::KeepOrientation).apply(&v).expect("resample");
    assert_eq!(out.shape3(), [23, 28, 17]);
    assert_affine(
        &out.affine,
        [[-3.0, 0.0, 0.0, 32.0], [0.0, 3.0, 0.0, -40.0], [0.0, 0.0, 3.0, -16.0], [0.0, 0.0, 0.0, 1.0]],
    );
}

/// A linear function of world position is reproduced exactly by linear interpolation, so every
/// output voxel inside the input's extent must hold f(its own world position).
#[test]
fn resample_to_spacing_keeps_world_positions() {
    let t = 0.4f64;
    let a = affine([
        [1.5 * t.cos(), 0.0, -2.5 * t.sin(), -20.0],
        [0.0, 1.2, 0.0, 30.0],
        [1.5 * t.sin(), 0.0, 2.5 * t.cos(), 5.0],
        [0.0, 0.0, 0.0, 1.0],
    ]);
    let f = |w: Vector4<f64>| 0.5 * w[0] - 0.25 * w[1] + 0.75 * w[2] + 100.0;
    let data = Array3::from_shape_fn([20, 17, 11].f(), |(x, y, z)| {
        f(a * Vector4::new(x as f64, y as f64, z as f64, 1.0)) as f32
    });
    let v = Volume::image3(data, a);
    let inverse = a.try_inverse().expect("invertible");
    for oblique in [Oblique::KeepOrientation, Oblique::ToOutputSpace] {
        let out = to_spacing([1.0, 2.0, 0.7], oblique).apply(&v).expect("resample");
        let mut checked = 0;
        for ((i, j, k, _), &got) in out.image().expect("image").indexed_iter() {
            let w = out.affine * Vector4::new(i as f64, j as f64, k as f64, 1.0);
            let p = inverse * w;
            let inside = (0..3).all(|c| p[c] >= 0.0 && p[c] <= [19.0, 16.0, 10.0][c]);
            if inside {
                assert!((f64::from(got) - f(w)).abs() < 1e-3, "{oblique:?} at {:?}", (i, j, k));
                checked += 1;
            }
        }
        assert!(checked > 1000, "{checked}");
    }
}

#[test]
fn resample_to_spacing_labels_stay_labels() {
    let l = read("mni152_tissue_labels.nii.gz", Kind::Label);
    let out = to_spacing([3.0, 3.0, 3.0], Oblique::KeepOrientation).apply(&l).expect("resample");
    assert_eq!(out.dtype(), l.dtype());
    assert_eq!(out.shape3(), [67, 79, 64]);
}

#[test]
fn bad_spacing_names_the_parameter() {
    let v = Volume::image3(Array3::zeros([4, 4, 4]), Affine::identity());
    for spacing in [[0.0, 1.0, 1.0], [1.0, -2.0, 1.0], [1.0, 1.0, f64::NAN]] {
        match to_spacing(spacing, Oblique::KeepOrientation).apply(&v) {
            Err(OpError::Param { param, .. }) => assert_eq!(param, "spacing"),
            other => panic!("expected a `spacing` error, got {other:?}"),
        }
    }
    let parsed: Result<Box<dyn voxflow_core::Op>, _> = serde_json::from_str(
        r#"{"op": "resample_to_spacing", "params": {"spacing": [1, 1, 1], "interpolation": "cubic", "ordr": 3}}"#,
    );
    assert!(parsed.expect_err("unknown field").to_string().contains("ordr"));
    let parsed: Box<dyn voxflow_core::Op> = serde_json::from_str(
        r#"{"op": "resample_to_spacing", "params": {"spacing": [1, 1, 1], "interpolation": "cubic", "oblique": "to_output_space"}}"#,
    )
    .expect("parse");
    parsed.validate().expect("valid");
}
