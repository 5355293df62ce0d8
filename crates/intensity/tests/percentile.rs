//! Percentiles and percentile clipping against numpy (values from `gen_reference.py`).

mod common;

use common::{anatomy, assert_close, frame, sums};
use ndarray::{Array3, ShapeBuilder};
use voxflow_intensity::{IntensityError, Region, percentile_clip, percentiles};

fn check(values: &[f32], qs: &[f64], expected: &[f64]) {
    let a = Array3::from_shape_vec((values.len(), 1, 1).f(), values.to_vec()).expect("shape");
    let got = percentiles(a.view(), qs, Region::All).expect("percentiles");
    // numpy's lerp reproduced operation for operation: equal to the last bit.
    assert_eq!(got, expected, "percentiles of {values:?} at {qs:?}");
}

#[test]
fn small_arrays_equal_numpy_exactly() {
    let qs = [0.0, 5.0, 33.3, 50.0, 95.0, 100.0];
    let cases: &[(&[f32], [f64; 6])] = &[
        (&[3.0], [3.0; 6]),
        (&[2.0, 2.0, 2.0, 2.0], [2.0; 6]),
        (
            &[5.0, 1.0, 4.0, 1.0, 3.0, 9.0, 2.0, 6.0],
            [1.0, 1.0, 2.330_999_999_999_999_5, 3.5, 7.949_999_999_999_998, 9.0],
        ),
        (
            &[-0.0, 0.0, -1.5, 1e30, -1e30, 7.25, 7.25],
            [
                -1.000_000_015_047_466_2e30,
                -7.000_000_105_332_264e29,
                -0.003_000_000_000_000_335_7,
                0.0,
                7.000_000_105_332_257e29,
                1.000_000_015_047_466_2e30,
            ],
        ),
        // NaN is left out, as numpy.nanpercentile.
        (&[1.0, f32::NAN, 3.0, 2.0], [1.0, 1.1, 1.666, 2.0, 2.9, 3.0]),
    ];
    for (values, expected) in cases {
        check(values, &qs, expected);
    }
}

#[test]
fn sample_percentiles_equal_numpy() {
    let v = anatomy();
    let cases: &[([f64; 2], [f64; 2])] = &[
        ([5.0, 95.0], [7.735_741_138_458_252, 83.514_434_814_453_12]),
        ([0.5, 99.5], [7.383_281_707_763_672, 88.096_405_029_296_88]),
        ([0.0, 100.0], [6.678_363_800_048_828, 96.555_419_921_875]),
        ([37.3, 62.9], [35.932_464_599_609_375, 60.252_140_045_166_016]),
        ([1.0, 99.0], [7.383_281_707_763_672, 87.039_024_353_027_34]),
    ];
    for (qs, expected) in cases {
        let got = percentiles(frame(&v), qs, Region::All).expect("percentiles");
        assert_close(&got, expected, 1e-12, 0.0, &format!("percentiles {qs:?}"));
    }
}

#[test]
fn nonzero_and_mask_regions_equal_numpy() {
    let v = anatomy();
    let zeroed = frame(&v).mapv(|x| if x < 20.0 { 0.0 } else { x });
    let got = percentiles(zeroed.view(), &[5.0, 95.0], Region::Nonzero).expect("nonzero");
    assert_close(&got, &[24.301_315_307_617_188, 84.219_352_722_167_97], 1e-12, 0.0, "nonzero");
    let got = percentiles(zeroed.view(), &[5.0, 95.0], Region::All).expect("all");
    assert_close(&got, &[0.0, 83.514_434_814_453_12], 1e-12, 0.0, "all with zeros");

    let mask = frame(&v).mapv(|x| x > 60.0);
    let got = percentiles(frame(&v), &[2.0, 98.0], Region::Mask(mask.view())).expect("mask");
    assert_close(&got, &[60.604_598_999_023_44, 87.391_487_121_582_03], 1e-12, 0.0, "mask");
}

#[test]
fn percentile_clip_matches_the_scipy_reference_case() {
    // manifest case percentile_clip_5_95: numpy.clip(x, *numpy.percentile(x, [5, 95])).
    let v = anatomy();
    let out = percentile_clip(frame(&v), 5.0, 95.0, Region::All).expect("clip");
    let (sum, _) = sums(&out.view());
    assert_close(&[sum], &[9_814_539.896_626_95], 1e-9, 0.0, "sum");
    let min = out.iter().copied().fold(f32::INFINITY, f32::min);
    let max = out.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    assert_eq!((min, max), (7.735_741_138_458_252_f64 as f32, 83.514_434_814_453_12_f64 as f32));
}

#[test]
fn bad_input_is_a_typed_error() {
    let v = anatomy();
    let f = frame(&v);
    assert!(matches!(
        percentile_clip(f, 95.0, 5.0, Region::All),
        Err(IntensityError::Param { param: "upper", .. })
    ));
    assert!(matches!(
        percentile_clip(f, 50.0, 50.0, Region::All),
        Err(IntensityError::Param { param: "upper", .. })
    ));
    assert!(matches!(
        percentile_clip(f, -1.0, 50.0, Region::All),
        Err(IntensityError::Param { param: "lower", .. })
    ));
    assert!(matches!(
        percentile_clip(f, 1.0, 101.0, Region::All),
        Err(IntensityError::Param { param: "upper", .. })
    ));
    let empty = f.mapv(|_| false);
    assert!(matches!(
        percentile_clip(f, 5.0, 95.0, Region::Mask(empty.view())),
        Err(IntensityError::EmptyRegion { .. })
    ));
    let nan = Array3::from_elem((2, 2, 2), f32::NAN);
    assert!(matches!(percentiles(nan.view(), &[50.0], Region::All), Err(IntensityError::EmptyRegion { .. })));
    let small_mask = Array3::from_elem((2, 2, 2), true);
    assert!(matches!(percentiles(f, &[50.0], Region::Mask(small_mask.view())), Err(IntensityError::Mask(_))));
}

#[test]
fn same_result_for_one_and_two_threads() {
    let v = anatomy();
    let one =
        common::with_threads(1, || percentile_clip(frame(&v), 2.0, 98.0, Region::Nonzero).expect("clip"));
    let two =
        common::with_threads(2, || percentile_clip(frame(&v), 2.0, 98.0, Region::Nonzero).expect("clip"));
    assert_eq!(one, two);
}
