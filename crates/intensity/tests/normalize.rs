//! `normalize` against numpy (values from `gen_reference.py`).

mod common;

use common::{PROBES, anatomy, assert_close, at, frame, label_from, op, run, sample, sums, vol};
use ndarray::{Array3, s};
use voxflow_intensity::IntensityError;
use voxflow_intensity::normalize::{NanPolicy, Normalize, NormalizeMode};
use voxflow_intensity::{Over, normalize};

fn params(json: serde_json::Value) -> Normalize {
    serde_json::from_value(json).expect("params parse")
}

#[test]
fn zscore_over_nonzero_equals_numpy() {
    // (x - x[x!=0].mean()) / x[x!=0].std() on the sample with its dark voxels zeroed.
    let v = anatomy();
    let zeroed = frame(&v).mapv(|x| if x < 20.0 { 0.0 } else { x });
    let out = normalize(zeroed.view(), &Normalize::default(), None).expect("normalize");
    let expected = [
        -3.075_317_382_812_5,
        0.397_003_471_851_348_9,
        0.072_572_827_339_172_36,
        -3.075_317_382_812_5,
        1.503_884_196_281_433,
        1.389_379_262_924_194,
    ];
    assert_close(&at(&out.view(), &PROBES), &expected, 1e-5, 1e-6, "probes");
    let (sum, abs) = sums(&out.view());
    assert_close(&[sum, abs], &[-154_491.640_913_696_73, 291_226.960_343_809_57], 1e-5, 0.0, "sums");
}

#[test]
fn manifest_params_parse_and_match_the_reference_case() {
    // manifest case normalize_zscore_nonzero: mni152_t1 cropped [60:124, 70:150, 60:120].
    let v = sample("mni152_t1.nii.gz");
    let crop = frame(&v).slice(s![60..124, 70..150, 60..120]).to_owned();
    let p = params(serde_json::json!({"mode": "zscore", "nonzero": true, "ddof": 0}));
    let out = normalize(crop.view(), &p, None).expect("normalize");
    let idx = [[0, 0, 0], [32, 40, 30], [10, 70, 50], [63, 79, 59], [5, 5, 5], [50, 20, 10]];
    let expected = [
        0.263_799_041_509_628_3,
        -2.358_331_918_716_430_7,
        1.012_979_269_027_71,
        -0.460_408_568_382_263_2,
        0.463_580_459_356_308,
        -1.534_233_689_308_166_5,
    ];
    assert_close(&at(&out.view(), &idx), &expected, 1e-5, 1e-6, "probes");
    let (sum, abs) = sums(&out.view());
    // The sum is ~0 by construction: compare it against the total magnitude.
    assert_close(&[sum], &[0.007_255_248_725_414_276], 0.0, 1e-6 * abs, "sum");
    assert_close(&[abs], &[242_401.726_661_205_3], 1e-5, 0.0, "sum of |z|");
}

#[test]
fn zscore_variants_equal_numpy() {
    let v = anatomy();
    let cases = [
        (
            serde_json::json!({"ddof": 1}),
            [
                -1.464_290_022_850_036_6,
                0.714_425_265_789_032,
                0.478_513_330_221_176_15,
                -1.505_921_483_039_856,
                1.519_301_056_861_877_4,
                1.436_038_017_272_949_2,
            ],
        ),
        (
            serde_json::json!({"over": "all"}),
            [
                -1.464_293_241_500_854_5,
                0.714_427_053_928_375_2,
                0.478_514_611_721_038_8,
                -1.505_924_820_899_963_4,
                1.519_304_752_349_853_5,
                1.436_041_593_551_635_7,
            ],
        ),
    ];
    for (json, expected) in cases {
        let out = normalize(frame(&v), &params(json.clone()), None).expect("normalize");
        assert_close(&at(&out.view(), &PROBES), &expected, 1e-5, 1e-6, &json.to_string());
    }
}

#[test]
fn minmax_equals_numpy() {
    let v = anatomy();
    let out = normalize(frame(&v), &params(serde_json::json!({"mode": "minmax"})), None).expect("minmax");
    let expected = [
        0.023_529_415_950_179_1,
        0.639_215_648_174_285_9,
        0.572_548_985_481_262_2,
        0.011_764_707_975_089_55,
        0.866_666_615_009_307_9,
        0.843_137_323_856_353_8,
    ];
    assert_close(&at(&out.view(), &PROBES), &expected, 1e-5, 1e-6, "probes");
    let (sum, _) = sums(&out.view());
    assert_close(&[sum], &[93_528.109_542_288_82], 1e-5, 0.0, "sum (manifest case normalize_minmax)");

    let out = normalize(frame(&v), &params(serde_json::json!({"mode": "minmax", "range": [-1, 1]})), None)
        .expect("minmax");
    let expected = [
        -0.952_941_179_275_512_7,
        0.278_431_296_348_571_8,
        0.145_097_970_962_524_41,
        -0.976_470_589_637_756_3,
        0.733_333_230_018_615_7,
        0.686_274_647_712_707_5,
    ];
    assert_close(&at(&out.view(), &PROBES), &expected, 1e-5, 1e-6, "probes [-1, 1]");
}

#[test]
fn constant_volumes_give_zeros_not_nan() {
    for value in [0.0f32, 7.5] {
        let a = Array3::from_elem((4, 3, 2), value);
        for json in [
            serde_json::json!({}),
            serde_json::json!({"over": "all"}),
            serde_json::json!({"ddof": 1}),
            serde_json::json!({"mode": "minmax"}),
        ] {
            let out = normalize(a.view(), &params(json.clone()), None).expect("normalize");
            assert!(out.iter().all(|&x| x == 0.0), "{json} on constant {value}: {out:?}");
        }
    }
    // One non-zero voxel: its std is 0, so the divisor is 1 and nothing is NaN.
    let mut a = Array3::zeros((3, 3, 3));
    a[[1, 1, 1]] = 5.0f32;
    let out = normalize(a.view(), &Normalize::default(), None).expect("normalize");
    assert!(out.iter().all(|x| x.is_finite()));
    assert_eq!(out[[1, 1, 1]], 0.0);
}

#[test]
fn nan_is_an_error_or_replaced() {
    let mut a = common::synthetic([6, 5, 4]);
    a[[1, 2, 3]] = f32::NAN;
    a[[0, 0, 1]] = f32::INFINITY;
    let err = normalize(a.view(), &Normalize::default(), None).expect_err("NaN refused");
    assert!(matches!(err, IntensityError::NonFinite { count: 2 }), "{err}");

    let p = Normalize { nan: NanPolicy::Replace(-9.0), over: Some(Over::All), ..Normalize::default() };
    let out = normalize(a.view(), &p, None).expect("normalize");
    assert_eq!((out[[1, 2, 3]], out[[0, 0, 1]]), (-9.0, -9.0));
    // The statistics leave the non-finite voxels out: the others have mean 0, std 1.
    let rest: Vec<f64> = out.iter().filter(|&&x| x != -9.0).map(|&x| f64::from(x)).collect();
    let mean = rest.iter().sum::<f64>() / rest.len() as f64;
    let var = rest.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / rest.len() as f64;
    assert_close(&[mean, var], &[0.0, 1.0], 0.0, 1e-6, "moments");
    let json: Normalize = params(serde_json::json!({"nan": {"replace": 0.5}}));
    assert_eq!(json.nan, NanPolicy::Replace(0.5));
}

#[test]
fn mask_input_restricts_the_statistics() {
    let v = anatomy();
    let labels = label_from(&v, &[40.0, 70.0]);
    // Labels 2 only (x > 70).
    let node = op("normalize", serde_json::json!({"over": "mask", "labels": [2]}));
    let out = common::expect_volume(
        run(node.as_ref(), vec![("volume", vol(v.clone())), ("mask", vol(labels))]).expect("run"),
    );
    let x = frame(&v);
    let sel: Vec<f64> = x.iter().filter(|&&x| x > 70.0).map(|&x| f64::from(x)).collect();
    let mean = sel.iter().sum::<f64>() / sel.len() as f64;
    let std = (sel.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / sel.len() as f64).sqrt();
    let got = at(&frame(&out), &PROBES);
    let expected: Vec<f64> = PROBES.iter().map(|&[i, j, k]| (f64::from(x[[i, j, k]]) - mean) / std).collect();
    assert_close(&got, &expected, 1e-5, 1e-6, "masked z-score");
}

#[test]
fn bad_params_are_rejected() {
    let bad = [
        (serde_json::json!({"over": "all", "nonzero": true}), "nonzero"),
        (serde_json::json!({"mode": "minmax", "range": [1, 0]}), "range"),
        (serde_json::json!({"ddof": 2}), "ddof"),
    ];
    for (json, name) in bad {
        let err =
            normalize(Array3::zeros((2, 2, 2)).view(), &params(json.clone()), None).expect_err("rejected");
        assert!(matches!(err, IntensityError::Param { param, .. } if param == name), "{json}: {err}");
    }
    assert!(serde_json::from_value::<Normalize>(serde_json::json!({"mean": true})).is_err());
    assert!(serde_json::from_value::<Normalize>(serde_json::json!({"mode": "max"})).is_err());
    assert_eq!(params(serde_json::json!({"mode": "minmax"})).region_kind().expect("ok"), Over::All);
    assert_eq!(Normalize::default().mode, NormalizeMode::Zscore);
}

#[test]
fn same_bits_for_one_and_two_threads() {
    let v = sample("mni152_t1.nii.gz");
    let f = frame(&v);
    let one = common::with_threads(1, || normalize(f, &Normalize::default(), None).expect("normalize"));
    let two = common::with_threads(2, || normalize(f, &Normalize::default(), None).expect("normalize"));
    assert_eq!(one, two);
}

#[test]
fn statistics_match_plain_f64_sums_across_chunks() {
    // 210,000 voxels: several parallel chunks of 65,536 and a short last block. Runs of zeros,
    // an offset large against the spread (cancellation), NaN and inf in one chunk (that chunk
    // takes the careful path, the others the fast one), and a mask.
    let shape = (70, 60, 50);
    let mut a = Array3::from_shape_fn(shape, |(i, j, k)| {
        if (i + 3 * j) % 23 < 5 || k == 7 {
            0.0
        } else {
            1000.0 + ((i * 7 + j * 13 + k * 29) % 101) as f32 / 16.0
        }
    });
    a[[5, 5, 40]] = f32::NAN;
    a[[6, 5, 40]] = f32::INFINITY;
    let mask = a.mapv(|x| x.is_finite() && x > 1003.0 || x == 0.0);
    let replace = -9.0f32;
    for (json, region) in [
        (serde_json::json!({"over": "all"}), 0),
        (serde_json::json!({}), 1),
        (serde_json::json!({"over": "mask"}), 2),
        (serde_json::json!({"mode": "minmax", "range": [-1, 1]}), 0),
        (serde_json::json!({"mode": "minmax", "over": "nonzero"}), 1),
    ] {
        let mut p = params(json.clone());
        p.nan = NanPolicy::Replace(replace);
        let inside = |idx: (usize, usize, usize), x: f32| {
            x.is_finite() && [true, x != 0.0, mask[[idx.0, idx.1, idx.2]]][region]
        };
        let sel: Vec<f64> =
            a.indexed_iter().filter(|&(i, &x)| inside(i, x)).map(|(_, &x)| f64::from(x)).collect();
        let n = sel.len() as f64;
        let mean = sel.iter().sum::<f64>() / n;
        let std = (sel.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt();
        let (lo, hi) = sel.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
        let [low, high] = p.output_range();
        let expected = |x: f64| match p.mode {
            NormalizeMode::Zscore => (x - mean) / std,
            NormalizeMode::Minmax => low + (x - lo) * (high - low) / (hi - lo),
        };
        let m = (region == 2).then(|| mask.view());
        let out = normalize(a.view(), &p, m).expect("normalize");
        for (&x, &y) in a.iter().zip(out.iter()) {
            let want = if x.is_finite() { expected(f64::from(x)) } else { f64::from(replace) };
            assert!(
                (f64::from(y) - want).abs() <= 2e-4 + 1e-5 * want.abs(),
                "{json}: {x} gave {y}, expected {want}"
            );
        }
    }
}
