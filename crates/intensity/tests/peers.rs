//! The ops of issue 14 against their peers' definitions: gamma's `retain_stats`
//! (batchgenerators), `contrast` (batchgenerators), `sharpen` (MONAI), `rician_noise` (MONAI,
//! batchgenerators) and `dropout` (MONAI), with their random versions' draws.

mod common;

use common::{anatomy, assert_close, expect_volume, frame, image, op, run, synthetic, vol, with_threads};
use ndarray::{Array3, ShapeBuilder};
use rand::SeedableRng;
use voxflow_core::{Kind, OpError, Value};
use voxflow_intensity::contrast::{RandomContrast, contrast};
use voxflow_intensity::dropout::{
    Dropout, DropoutBox, DropoutFill, FillStat, MAX_BOXES, RandomDropout, dropout,
};
use voxflow_intensity::gamma::{Gamma, RandomGamma, gamma, retain_stats};
use voxflow_intensity::gaussian_filter;
use voxflow_intensity::rician_noise::{RandomRicianNoise, add_rician_noise};
use voxflow_intensity::sharpen::{RandomSharpen, Sigma2, sharpen};

fn rng(seed: u64) -> voxflow_core::seed::Rng {
    voxflow_core::seed::Rng::seed_from_u64(seed)
}

/// Mean and population standard deviation in f64.
fn mean_std(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let v: Vec<f64> = values.collect();
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    (mean, (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt())
}

fn draw(node: &dyn voxflow_core::Op, inputs: Vec<(&str, Value)>) -> serde_json::Value {
    let Value::Draw(d) = run(node, inputs).expect("draw") else { panic!("not a draw") };
    serde_json::to_value(d.as_ref()).expect("ser")
}

// ---- gamma: retain_stats -----------------------------------------------------------------

#[test]
fn gamma_retain_stats_is_batchgenerators() {
    let a = synthetic([6, 5, 4]);
    let (m0, s0) = mean_std(a.iter().map(|&x| f64::from(x)));
    for (rescale, invert) in [(true, false), (true, true), (false, false)] {
        let g = if rescale { 1.7 } else { 0.5 };
        let plain = gamma(a.view(), g, rescale, invert);
        let mut kept = plain.clone();
        retain_stats(a.view(), &mut kept);
        // batchgenerators: z - z.mean(); / (z.std() + 1e-8) * sd; + mn, on the power.
        let (mz, sz) = mean_std(plain.iter().map(|&x| f64::from(x)));
        for (&z, &y) in plain.iter().zip(kept.iter()) {
            let expected = (f64::from(z) - mz) / (sz + 1e-8) * s0 + m0;
            assert_close(&[f64::from(y)], &[expected], 1e-6, 1e-6, &format!("{rescale} {invert}"));
        }
        let (m1, s1) = mean_std(kept.iter().map(|&x| f64::from(x)));
        assert_close(&[m1, s1], &[m0, s0], 1e-6, 1e-5, "the statistics are the input's");
        assert_ne!(kept, plain, "the power alone changes the statistics");
    }
    // Through the node, and in the draw.
    let v = image(a.clone(), 1.5);
    let node = op("gamma", serde_json::json!({"gamma": 1.7, "rescale": true, "retain_stats": true}));
    let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v))]).expect("run"));
    let mut kept = gamma(a.view(), 1.7, true, false);
    retain_stats(a.view(), &mut kept);
    assert_eq!(frame(&out), kept.view());
    let g = RandomGamma { log_gamma: [-0.3, 0.3], p: 1.0, rescale: true, invert: false, retain_stats: true }
        .sample(&mut rng(3));
    assert!(g.retain_stats && g.rescale);
}

#[test]
fn gamma_without_retain_stats_serialises_as_before() {
    let g = Gamma { gamma: 0.8, rescale: false, invert: false, retain_stats: false };
    assert_eq!(serde_json::to_string(&g).expect("ser"), r#"{"gamma":0.8,"rescale":false,"invert":false}"#);
    let g = Gamma { retain_stats: true, ..g };
    let back: Gamma = serde_json::from_str(&serde_json::to_string(&g).expect("ser")).expect("de");
    assert_eq!(back, g);
}

// ---- contrast ------------------------------------------------------------------------------

#[test]
fn contrast_is_about_the_mean_and_keeps_the_range() {
    let a = Array3::from_shape_vec((5, 1, 1).f(), vec![0.0f32, 1.0, 2.0, 3.0, 4.0]).expect("shape");
    let got = |factor, preserve| contrast(a.view(), factor, preserve).iter().copied().collect::<Vec<f32>>();
    assert_eq!(got(2.0, false), vec![-2.0, 0.0, 2.0, 4.0, 6.0]);
    assert_eq!(got(2.0, true), vec![0.0, 0.0, 2.0, 4.0, 4.0]);
    assert_eq!(got(0.5, true), vec![1.0, 1.5, 2.0, 2.5, 3.0]);
    assert_eq!(got(0.0, true), vec![2.0; 5]);
    // The synthetic volume against the formula; the mean is kept when nothing is clipped.
    let s = synthetic([6, 5, 4]);
    let (m, _) = mean_std(s.iter().map(|&x| f64::from(x)));
    let (lo, hi) = s.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    let out = contrast(s.view(), 1.3, true);
    for (&x, &y) in s.iter().zip(out.iter()) {
        let e = ((f64::from(x) - m) * 1.3 + m).clamp(f64::from(lo), f64::from(hi));
        assert_close(&[f64::from(y)], &[e], 1e-6, 1e-6, "contrast 1.3");
    }
    let (m2, _) = mean_std(contrast(s.view(), 0.8, true).iter().map(|&x| f64::from(x)));
    assert_close(&[m2], &[m], 0.0, 1e-5, "the mean is kept");
}

#[test]
fn random_contrast_draws_as_batchgenerators() {
    let draws = |factor: [f64; 2]| -> Vec<f64> {
        (0..400)
            .map(|s| RandomContrast { factor, preserve_range: true, p: 1.0 }.sample(&mut rng(s)).factor)
            .collect()
    };
    let d = draws([0.75, 1.25]);
    assert!(d.iter().all(|f| (0.75..=1.25).contains(f)));
    let below = d.iter().filter(|&&f| f < 1.0).count();
    // Half below 1 (binomial, n = 400: 4 standard deviations is 40).
    assert!((160..=240).contains(&below), "{below} of 400 below 1");
    // A range below 1 draws in [lo, 1]; above 1 never below lo.
    assert!(draws([0.5, 0.9]).iter().all(|f| (0.5..=1.0).contains(f)));
    assert!(draws([1.1, 1.5]).iter().all(|f| (1.1..=1.5).contains(f)));
    assert_eq!(
        RandomContrast { factor: [0.75, 1.25], preserve_range: false, p: 0.0 }.sample(&mut rng(1)).factor,
        1.0
    );
}

// ---- sharpen -------------------------------------------------------------------------------

#[test]
fn sharpen_is_monai_formula_over_the_blur_filter() {
    let a = synthetic([9, 8, 7]);
    let (s1, s2) = ([1.5, 1.0, 0.5], [0.5, 0.5, 0.25]);
    let out = sharpen(a.view(), s1, s2, 12.0, 4.0);
    let b = gaussian_filter(a.view(), s1, 4.0);
    let bb = gaussian_filter(b.view(), s2, 4.0);
    for ((&y, &b), &bb) in out.iter().zip(b.iter()).zip(bb.iter()) {
        assert_eq!(y, (f64::from(b) + 12.0 * (f64::from(b) - f64::from(bb))) as f32);
    }
    // A constant image stays constant; a step overshoots on both sides (sharpening).
    let c = Array3::from_elem((6, 6, 6).f(), 5.0f32);
    for &v in &sharpen(c.view(), [3.0; 3], [1.0; 3], 30.0, 4.0) {
        assert!((v - 5.0).abs() < 1e-4, "{v}");
    }
    let step = Array3::from_shape_fn((16, 3, 3).f(), |(i, _, _)| if i < 8 { 0.0f32 } else { 1.0 });
    let sharp = sharpen(step.view(), [1.0, 0.0, 0.0], [1.0, 0.0, 0.0], 5.0, 4.0);
    let (lo, hi) = sharp.iter().fold((f32::MAX, f32::MIN), |(l, h), &x| (l.min(x), h.max(x)));
    assert!(lo < -0.05 && hi > 1.05, "overshoot {lo} {hi}");
}

#[test]
fn sharpen_sigmas_are_in_mm() {
    let a = synthetic([9, 8, 7]);
    let v = image(a.clone(), 2.0);
    let node = op("sharpen", serde_json::json!({"sigma1_mm": 3.0, "sigma2_mm": [1.0, 2.0, 0.0], "alpha": 7}));
    let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v))]).expect("run"));
    assert_eq!(frame(&out), sharpen(a.view(), [1.5; 3], [0.5, 1.0, 0.0], 7.0, 4.0).view());
    // MONAI's defaults.
    let node = op("sharpen", serde_json::json!({}));
    let json = serde_json::to_value(node.as_ref()).expect("ser");
    assert_eq!(
        json["params"],
        serde_json::json!({"sigma1_mm": 3.0, "sigma2_mm": 1.0, "alpha": 30.0, "truncate": 4.0})
    );
    // A kernel far longer than the volume is refused, naming the sigma.
    let node = op("sharpen", serde_json::json!({"sigma1_mm": 1.0, "sigma2_mm": 1e6}));
    let err = run(node.as_ref(), vec![("volume", vol(image(a, 1.0)))]).expect_err("huge sigma");
    assert!(matches!(&err, OpError::Param { param: "sigma2_mm", .. }), "{err}");
}

#[test]
fn random_sharpen_draws_as_monai() {
    for seed in 0..50 {
        let r = RandomSharpen {
            sigma1: [0.5, 1.0],
            sigma2: Sigma2::UpToSigma1(0.5),
            alpha: [10.0, 30.0],
            p: 1.0,
        };
        let s = r.sample(&mut rng(seed));
        let (s1, s2) = (s.sigma1_mm.per_axis(), s.sigma2_mm.per_axis());
        for a in 0..3 {
            assert!((0.5..=1.0).contains(&s1[a]) && (0.5..=s1[a]).contains(&s2[a]), "{s:?}");
        }
        assert!((10.0..=30.0).contains(&s.alpha));
        let r = RandomSharpen { sigma2: Sigma2::Range([0.1, 0.2]), ..r };
        assert!(r.sample(&mut rng(seed)).sigma2_mm.per_axis().iter().all(|s| (0.1..=0.2).contains(s)));
    }
    // A skipped draw returns the input untouched.
    let skip =
        RandomSharpen { sigma1: [0.5, 1.0], sigma2: Sigma2::UpToSigma1(0.5), alpha: [10.0, 30.0], p: 0.0 }
            .sample(&mut rng(1));
    let input = std::sync::Arc::new(anatomy());
    let out = expect_volume(run(&skip, vec![("volume", Value::Volume(input.clone()))]).expect("run"));
    assert!(std::sync::Arc::ptr_eq(&out, &input));
}

// ---- rician noise --------------------------------------------------------------------------

/// Modified Bessel functions I0 and I1 by their series (|x| < 20 here).
fn bessel_i0_i1(x: f64) -> (f64, f64) {
    let (mut i0, mut i1) = (0.0, 0.0);
    let mut term = 1.0; // (x/2)^(2k) / (k!)^2
    for k in 0..200 {
        let k = f64::from(k);
        i0 += term;
        i1 += term * (x / 2.0) / (k + 1.0);
        term *= (x / 2.0).powi(2) / ((k + 1.0) * (k + 1.0));
    }
    (i0, i1)
}

/// The mean of the Rice distribution: `σ·sqrt(π/2)·L_½(-ν²/2σ²)`.
fn rice_mean(nu: f64, sigma: f64) -> f64 {
    let x = -nu * nu / (2.0 * sigma * sigma);
    let (i0, i1) = bessel_i0_i1(-x / 2.0);
    let laguerre = (x / 2.0).exp() * ((1.0 - x) * i0 - x * i1);
    sigma * (std::f64::consts::PI / 2.0).sqrt() * laguerre
}

#[test]
fn rician_noise_follows_the_rice_distribution() {
    let shape = [64, 64, 32];
    for (nu, sigma) in [(0.0, 1.0), (3.0, 1.0), (2.0, 1.5)] {
        let a = Array3::from_elem(shape.f(), nu as f32);
        let out = add_rician_noise(a.view(), 0.0, sigma, false, 11, 0);
        let n = out.len() as f64;
        let (mean, std) = mean_std(out.iter().map(|&y| f64::from(y)));
        let second = out.iter().map(|&y| f64::from(y).powi(2)).sum::<f64>() / n;
        // 131 072 samples: 5 standard errors of the mean.
        let tol = 5.0 * std / n.sqrt();
        assert_close(
            &[mean],
            &[rice_mean(nu, sigma)],
            0.0,
            tol,
            &format!("Rice mean, nu {nu}, sigma {sigma}"),
        );
        // E[R²] = ν² + 2σ².
        assert_close(&[second], &[nu * nu + 2.0 * sigma * sigma], 0.02, 0.0, "second moment");
        assert!(out.iter().all(|&y| y >= 0.0));
    }
    // The Rice mean itself: Rayleigh's σ·sqrt(π/2) at ν = 0, ν for large ν/σ.
    assert_close(
        &[rice_mean(0.0, 2.0)],
        &[2.0 * (std::f64::consts::PI / 2.0).sqrt()],
        1e-12,
        0.0,
        "Rayleigh",
    );
    assert_close(&[rice_mean(10.0, 1.0)], &[10.0 + 1.0 / 20.0], 1e-3, 0.0, "large SNR");
}

#[test]
fn rician_noise_is_deterministic_and_reuses_the_noise_stream() {
    let v = anatomy();
    let f = frame(&v);
    let out = add_rician_noise(f, 0.2, 3.0, false, 7, 0);
    let one = with_threads(1, || add_rician_noise(f, 0.2, 3.0, false, 7, 0));
    let two = with_threads(2, || add_rician_noise(f, 0.2, 3.0, false, 7, 0));
    assert_eq!(one, out);
    assert_eq!(two, out);
    assert_ne!(add_rician_noise(f, 0.2, 3.0, false, 8, 0), out, "another seed");
    assert_ne!(add_rician_noise(f, 0.2, 3.0, false, 7, 1), out, "another frame");
    // n1 and n2 are the first two normals of noise's stream: with x = 0 and std 1, noise's
    // first value is n1 itself.
    let zeros = Array3::<f32>::zeros((4, 1, 1).f());
    let gauss = voxflow_intensity::noise::add_noise(zeros.view(), 0.0, 1.0, 5, 0);
    let rice = add_rician_noise(zeros.view(), 0.0, 1.0, false, 5, 0);
    let (n1, n2) = (f64::from(gauss[[0, 0, 0]]), f64::from(gauss[[1, 0, 0]]));
    assert_close(&[f64::from(rice[[0, 0, 0]])], &[n1.hypot(n2)], 1e-6, 0.0, "first voxel");
    // batchgenerators' sign: negative voxels stay negative, zeros become 0.
    let signed_in = Array3::from_shape_vec((3, 1, 1).f(), vec![-4.0f32, 0.0, 4.0]).expect("shape");
    let signed = add_rician_noise(signed_in.view(), 0.0, 0.5, true, 3, 0);
    assert!(signed[[0, 0, 0]] < 0.0 && signed[[1, 0, 0]] == 0.0 && signed[[2, 0, 0]] > 0.0, "{signed:?}");
}

#[test]
fn random_rician_noise_draws_a_seed_or_nothing() {
    for seed in 0..20 {
        let r = RandomRicianNoise { std: [0.0, 1.0], mean: [0.0, 0.0], signed: false, p: 1.0 };
        let n = r.sample(&mut rng(seed)).expect("drawn");
        assert!((0.0..=1.0).contains(&n.std) && n.mean == 0.0, "{n:?}");
    }
    let never = RandomRicianNoise { std: [0.0, 1.0], mean: [0.0, 0.0], signed: false, p: 0.0 };
    assert_eq!(never.sample(&mut rng(1)), None);
    // The skipped draw is the identity (an empty chain), not |x|.
    let node = op("random_rician_noise", serde_json::json!({"p": 0.0}));
    let d = draw(node.as_ref(), vec![]);
    assert_eq!(d, serde_json::json!({"op": "chain", "params": {"ops": []}}));
    let node = op("random_rician_noise", serde_json::json!({"std": [0.5, 1.0]}));
    let d = draw(node.as_ref(), vec![]);
    assert_eq!(d["op"], "rician_noise");
    assert_eq!(node.draw_applies_to(), &[Kind::Image]);
}

// ---- dropout -------------------------------------------------------------------------------

fn ramp(shape: [usize; 3]) -> Array3<f32> {
    Array3::from_shape_fn(shape.f(), |(i, j, k)| (i + 10 * j + 100 * k) as f32 + 1.0)
}

#[test]
fn dropout_fills_the_boxes_cut_to_the_grid() {
    let a = ramp([5, 4, 3]);
    let boxes = [
        DropoutBox { start: [1, 1, 0], size: [2, 2, 1] },
        // Past the edge: cut to x 4..5, y 3..4, z 2..3.
        DropoutBox { start: [4, 3, 2], size: [9, 9, 9] },
        // Outside: nothing.
        DropoutBox { start: [7, 0, 0], size: [1, 1, 1] },
    ];
    let inside = |i: usize, j: usize, k: usize| {
        ((1..3).contains(&i) && (1..3).contains(&j) && k == 0) || (i == 4 && j == 3 && k == 2)
    };
    let out = dropout(a.view(), &boxes, -1.0, true);
    for ((i, j, k), &y) in out.indexed_iter() {
        assert_eq!(y, if inside(i, j, k) { -1.0 } else { a[[i, j, k]] }, "{i} {j} {k}");
    }
    assert_eq!(out.iter().filter(|&&y| y == -1.0).count(), 5);
    // dropout_holes false: the boxes are kept, the rest filled.
    let out = dropout(a.view(), &boxes, 7.5, false);
    for ((i, j, k), &y) in out.indexed_iter() {
        assert_eq!(y, if inside(i, j, k) { a[[i, j, k]] } else { 7.5 }, "{i} {j} {k}");
    }
}

#[test]
fn dropout_node_fills_with_a_statistic() {
    let a = ramp([5, 4, 3]);
    let v = image(a.clone(), 1.0);
    let (mean, _) = mean_std(a.iter().map(|&x| f64::from(x)));
    for (fill, value) in [("min", 1.0f32), ("max", 235.0), ("mean", mean as f32)] {
        let node = op(
            "dropout",
            serde_json::json!({"boxes": [{"start": [0, 0, 0], "size": [2, 1, 1]}], "fill": fill}),
        );
        let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect(fill));
        let f = frame(&out);
        assert_eq!((f[[0, 0, 0]], f[[1, 0, 0]], f[[2, 0, 0]]), (value, value, a[[2, 0, 0]]), "{fill}");
    }
    let parsed: Dropout =
        serde_json::from_value(serde_json::json!({"boxes": [], "fill": "mean"})).expect("de");
    assert_eq!(parsed.fill, DropoutFill::Stat(FillStat::Mean));
    assert!(parsed.dropout_holes);
    assert!(serde_json::from_value::<Dropout>(serde_json::json!({"boxes": [], "fill": "median"})).is_err());
}

#[test]
fn random_dropout_draws_bounded_boxes_inside_the_grid() {
    let shape = [20, 12, 9];
    let r = RandomDropout {
        holes: 2,
        max_holes: Some(5),
        size: [2, 0, 3],
        max_size: Some([30, 0, 4]),
        fill: DropoutFill::Value(0.0),
        dropout_holes: true,
        p: 1.0,
    };
    let mut counts = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let d = r.sample(&mut rng(seed), shape).expect("draw");
        counts.insert(d.boxes.len());
        for b in &d.boxes {
            // x: 2..=30 cut to 20; y: the whole axis (0); z: 3..=4.
            assert!(
                (2..=20).contains(&b.size[0]) && b.size[1] == 12 && (3..=4).contains(&b.size[2]),
                "{b:?}"
            );
            assert!((0..3).all(|a| b.start[a] + b.size[a] <= shape[a]), "{b:?}");
        }
    }
    assert_eq!(counts, (2..=5).collect(), "every count in holes..=max_holes is drawn");
    // Exactly `holes` boxes of exactly `size` without the maxima; none when p skips.
    let fixed = RandomDropout { max_holes: None, max_size: None, size: [3, 3, 3], ..r.clone() };
    let d = fixed.sample(&mut rng(1), shape).expect("draw");
    assert_eq!(d.boxes.len(), 2);
    assert!(d.boxes.iter().all(|b| b.size == [3, 3, 3]));
    assert!(RandomDropout { p: 0.0, ..r.clone() }.sample(&mut rng(1), shape).expect("draw").boxes.is_empty());
    // A max_size below a whole-axis size is known only with the shape.
    let bad = RandomDropout { size: [0, 1, 1], max_size: Some([5, 1, 1]), ..r };
    let err = bad.sample(&mut rng(1), shape).expect_err("max_size < shape");
    assert!(matches!(&err, OpError::Param { param: "max_size", .. }), "{err}");
}

#[test]
fn random_dropout_takes_the_shape_of_its_like_input() {
    let v = anatomy();
    let node = op("random_dropout", serde_json::json!({"holes": 3, "size": [10, 10, 10]}));
    assert_eq!(node.ports()[0].name, "like");
    let d = draw(node.as_ref(), vec![("like", vol(v.clone()))]);
    assert_eq!(d["op"], "dropout");
    let boxes = d["params"]["boxes"].as_array().expect("boxes");
    assert_eq!(boxes.len(), 3);
    let back: Box<dyn voxflow_core::Op> = serde_json::from_value(d).expect("the draw parses back");
    let out = expect_volume(run(back.as_ref(), vec![("volume", vol(v.clone()))]).expect("apply"));
    let zeros = frame(&out).iter().zip(frame(&v).iter()).filter(|&(&y, &x)| y == 0.0 && x != 0.0).count();
    assert!(zeros > 0, "some non-zero voxels were dropped");
    let err = run(node.as_ref(), vec![]).expect_err("no like input");
    assert!(err.to_string().contains("like"), "{err}");
}

#[test]
fn dropout_parameters_are_bounded() {
    use serde_json::json;
    let many: Vec<_> = (0..=MAX_BOXES).map(|_| json!({"start": [0, 0, 0], "size": [1, 1, 1]})).collect();
    for (name, params, param) in [
        ("dropout", json!({"boxes": many}), "boxes"),
        ("dropout", json!({"boxes": [{"start": [0, 0, 0], "size": [1, 0, 1]}]}), "boxes"),
        ("random_dropout", json!({"holes": 0, "size": [4, 4, 4]}), "holes"),
        ("random_dropout", json!({"holes": 3, "max_holes": 2, "size": [4, 4, 4]}), "max_holes"),
        ("random_dropout", json!({"max_holes": MAX_BOXES + 1, "size": [4, 4, 4]}), "max_holes"),
        ("random_dropout", json!({"size": [4, 4, 4], "max_size": [8, 3, 8]}), "max_size"),
        ("random_dropout", json!({"size": [4, 4, 4], "p": 2}), "p"),
    ] {
        let node = op(name, params.clone());
        let err = node.validate().expect_err(&format!("{name} {params}"));
        assert!(matches!(&err, OpError::Param { param: p, .. } if *p == param), "{name} {params}: {err}");
    }
}
