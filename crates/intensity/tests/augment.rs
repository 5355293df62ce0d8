//! Augmentations against their definitions: gamma (TorchIO), noise, bias field (TorchIO),
//! brightness/contrast, and the random ops' draws.

// Reference tables printed by gen_reference.py, kept as printed.
#![allow(clippy::unreadable_literal, clippy::excessive_precision)]

mod common;

use common::{anatomy, assert_close, expect_volume, frame, op, run, synthetic, vol};
use rand::SeedableRng;
use std::sync::Arc;
use voxflow_core::{Kind, Op, Value};
use voxflow_intensity::bias_field::{BiasField, RandomBiasField, bias_field, coefficient_count};
use voxflow_intensity::blur::RandomBlur;
use voxflow_intensity::brightness_contrast::{RandomBrightnessContrast, brightness_contrast};
use voxflow_intensity::gamma::{Gamma, Power, RandomGamma, gamma};
use voxflow_intensity::noise::{NOISE_CHUNK, Noise, RandomNoise, add_noise};

/// TorchIO's field for shape (6, 5, 4), order 3, coefficients 0.05·((7c mod 11) - 5), Fortran order.
#[rustfmt::skip]
const TORCHIO_FIELD: [f64; 120] = [
    0.1495686, 0.2116545, 0.3004722, 0.3962936, 0.4496886, 0.4065697, 0.2217399, 0.2882146,
    0.3758181, 0.4552767, 0.4745207, 0.3940608, 0.3166368, 0.3818223, 0.4619032, 0.5191305,
    0.5019775, 0.386741, 0.4873611, 0.5507083, 0.6242839, 0.657474, 0.5957406, 0.4300946,
    0.9048374, 0.9677321, 1.0383158, 1.0349985, 0.8876303, 0.6065307, 0.4476679, 0.4912874,
    0.5644624, 0.6287822, 0.628894, 0.5230134, 0.5873256, 0.6120968, 0.6678531, 0.7064925,
    0.6710367, 0.52996, 0.6943252, 0.6940784, 0.7263965, 0.7370633, 0.6715028, 0.5086852,
    0.8276868, 0.8016024, 0.8127773, 0.7990058, 0.7052456, 0.5175936, 1.1133878, 1.0551876,
    1.0469658, 1.0071663, 0.8699251, 0.6247708, 0.751875, 0.6630704, 0.6388857, 0.6228486,
    0.5689625, 0.4509962, 0.9540963, 0.8261219, 0.7815299, 0.748071, 0.6709373, 0.5221666,
    1.0205792, 0.876354, 0.8221706, 0.7804409, 0.6941606, 0.5357572, 1.0298345, 0.8857764,
    0.8323966, 0.7914659, 0.7051411, 0.5451398, 1.0970147, 0.9546317, 0.90763, 0.8731272,
    0.7870242, 0.6155832, 1.105171, 0.8115575, 0.6794987, 0.6007358, 0.5193382, 0.4065697,
    1.4825299, 1.1051157, 0.9392722, 0.842948, 0.7397448, 0.5878696, 1.5683122, 1.1986549,
    1.0445645, 0.9611738, 0.8648493, 0.7046881, 1.4641136, 1.1588753, 1.045871, 0.9966556,
    0.9287181, 0.7836835, 1.3498588, 1.1176184, 1.0550625, 1.0516917, 1.0251101, 0.9048374,
];

fn rng(seed: u64) -> voxflow_core::seed::Rng {
    voxflow_core::seed::Rng::seed_from_u64(seed)
}

#[test]
fn gamma_is_torchio_sign_power() {
    let a = synthetic([6, 5, 4]);
    for g in [0.74, 1.0, 1.35] {
        let out = gamma(a.view(), g, false, false);
        for (&x, &y) in a.iter().zip(out.iter()) {
            let x = f64::from(x);
            let expected = x.signum() * x.abs().powf(g);
            let expected = if x == 0.0 { 0.0 } else { expected };
            assert_close(&[f64::from(y)], &[expected], 1e-5, 1e-30, &format!("gamma {g} of {x}"));
        }
        // invert does nothing with TorchIO's odd-symmetric power.
        assert_eq!(gamma(a.view(), g, false, true), out);
    }
}

/// The fast power against f64 `powf`, over x from the smallest subnormal to `f32::MAX`
/// (dense in every binade, exact powers of two and their neighbours included) and the
/// special values.
#[test]
fn fast_power_is_within_its_error_bound() {
    let mut xs: Vec<f32> = vec![f32::MIN_POSITIVE, f32::MAX, 1.0, 1e-45, 1e-40, 1e-38, 1e38, 3.0e38];
    for e in -149..128 {
        let p = 2f64.powi(e) as f32;
        xs.extend([p, f32::from_bits(p.to_bits() + 1), f32::from_bits(p.to_bits().saturating_sub(1))]);
    }
    // Every 4099th bit pattern of the positive finite floats.
    xs.extend((0..0x7f80_0000u32).step_by(4099).map(f32::from_bits));
    for g in [0.5f32, 0.8, 1.3, 2.5, 1.0 / 3.0, 0.74, 1.35] {
        let power = Power::new(g);
        let mut worst = (0.0f64, 0.0f32);
        for &x in &xs {
            let exact = f64::from(x).powf(f64::from(g));
            let got = power.pow_signed(x);
            assert_eq!(power.pow_signed(-x), -got, "{x}");
            // The relative error of results that are normal f32 numbers; overflow is inf and
            // subnormal results are within one subnormal step.
            if exact > f64::from(f32::MAX) {
                assert_eq!(got, f32::INFINITY, "{x}^{g}");
            } else if exact < f64::from(f32::MIN_POSITIVE) {
                let step = f64::from(f32::from_bits(1));
                assert!((f64::from(got) - exact).abs() <= step + 3e-7 * exact, "{x}^{g}: {got} vs {exact:e}");
            } else {
                let rel = (f64::from(got) - exact).abs() / exact;
                if rel > worst.0 {
                    worst = (rel, x);
                }
            }
        }
        // Measured: 1.3e-7 (γ = 0.5) to 2.5e-7 (γ = 2.5); rounding to f32 alone is up to 6e-8.
        assert!(worst.0 < 3e-7, "gamma {g}: relative error {:e} at x = {:e}", worst.0, worst.1);
        for special in [0.0, -0.0, f32::INFINITY, f32::NEG_INFINITY, 1.0, -1.0] {
            assert_eq!(power.pow_signed(special).to_bits(), special.to_bits(), "{special}^{g}");
        }
        assert!(power.pow_signed(f32::NAN).is_nan());
        // The in-place version gives the same bits.
        let mut many = xs.iter().flat_map(|&x| [x, -x]).chain([f32::NAN, 0.0, -0.0]).collect::<Vec<_>>();
        let one_by_one: Vec<u32> = many.iter().map(|&x| power.pow_signed(x).to_bits()).collect();
        power.pow_signed_in_place(&mut many);
        assert_eq!(many.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), one_by_one);
    }
}

#[test]
fn gamma_rescaled_is_batchgenerators() {
    let a = synthetic([6, 5, 4]);
    let (mn, mx) = a
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(f64::from(x)), h.max(f64::from(x))));
    let range = mx - mn + 1e-7;
    for invert in [false, true] {
        let out = gamma(a.view(), 1.5, true, invert);
        for (&x, &y) in a.iter().zip(out.iter()) {
            let x = f64::from(x);
            let expected = if invert {
                let (imn, ir) = (-mx, range);
                -((((-x) - imn) / ir).powf(1.5) * ir + imn)
            } else {
                ((x - mn) / range).powf(1.5) * range + mn
            };
            assert_close(&[f64::from(y)], &[expected], 1e-5, 1e-5, &format!("invert {invert}, x {x}"));
        }
    }
}

#[test]
fn noise_has_the_asked_moments_and_is_deterministic() {
    let v = anatomy();
    let f = frame(&v);
    let out = add_noise(f, 0.5, 2.0, 7, 0);
    let noise: Vec<f64> = out.iter().zip(f.iter()).map(|(&y, &x)| f64::from(y) - f64::from(x)).collect();
    let n = noise.len() as f64;
    let mean = noise.iter().sum::<f64>() / n;
    let std = (noise.iter().map(|e| (e - mean).powi(2)).sum::<f64>() / n).sqrt();
    // 213 864 samples: the standard error of the mean is 2/462 = 0.0043.
    assert_close(&[mean, std], &[0.5, 2.0], 0.0, 0.02, "noise mean and std");
    let one = common::with_threads(1, || add_noise(f, 0.5, 2.0, 7, 0));
    let two = common::with_threads(2, || add_noise(f, 0.5, 2.0, 7, 0));
    assert_eq!(one, two);
    assert_eq!(one, out);
    assert_ne!(add_noise(f, 0.5, 2.0, 8, 0), out, "another seed, other noise");
    assert_ne!(add_noise(f, 0.5, 2.0, 7, 1), out, "another frame, other noise");
    // Chunks are independent streams: neighbouring chunks do not repeat each other.
    let d = |i: usize| {
        out.t().iter().nth(i).copied().unwrap_or(0.0) - f.t().iter().nth(i).copied().unwrap_or(0.0)
    };
    assert_ne!(d(0), d(NOISE_CHUNK));
}

#[test]
fn bias_field_is_torchio_field() {
    let order = 3;
    let coefs: Vec<f64> = (0..20).map(|c| 0.05 * (((7 * c) % 11) as f64 - 5.0)).collect();
    assert_eq!(coefs.len(), coefficient_count(order));
    let ones = ndarray::Array3::from_elem((6, 5, 4), 1.0f32);
    let field = bias_field(ones.view(), order, &coefs);
    let got: Vec<f64> = field.t().iter().map(|&v| f64::from(v)).collect();
    assert_close(&got, &TORCHIO_FIELD, 1e-6, 0.0, "field");
    // And it multiplies.
    let a = synthetic([6, 5, 4]);
    let out = bias_field(a.view(), order, &coefs);
    for ((&x, &f), &y) in a.iter().zip(field.iter()).zip(out.iter()) {
        assert_eq!(y, x * f);
    }
}

#[test]
fn brightness_contrast_is_affine() {
    let a = synthetic([6, 5, 4]);
    let out = brightness_contrast(a.view(), 1.2, -3.0);
    for (&x, &y) in a.iter().zip(out.iter()) {
        assert_eq!(y, (f64::from(x) * 1.2 - 3.0) as f32);
    }
    let node = op("brightness_contrast", serde_json::json!({"contrast": 1.2, "brightness": -3.0}));
    let v = common::image(a.clone(), 1.0);
    let got = expect_volume(run(node.as_ref(), vec![("volume", vol(v))]).expect("run"));
    assert_eq!(frame(&got), out.view());
}

#[test]
fn random_ops_draw_within_their_ranges_and_skip_with_p_zero() {
    for seed in 0..20 {
        let g = RandomGamma {
            log_gamma: [-0.3, 0.3],
            p: 1.0,
            rescale: false,
            invert: false,
            retain_stats: false,
        }
        .sample(&mut rng(seed));
        assert!((-0.3..=0.3).contains(&g.gamma.ln()), "{g:?}");
        let n = RandomNoise { std: [0.1, 0.2], mean: [0.0, 0.0], p: 1.0 }.sample(&mut rng(seed));
        assert!((0.1..=0.2).contains(&n.std) && n.mean == 0.0, "{n:?}");
        let b = RandomBlur { std: [0.0, 2.0], p: 1.0 }.sample(&mut rng(seed));
        assert!(b.sigma_mm.per_axis().iter().all(|s| (0.0..=2.0).contains(s)), "{b:?}");
        let f = RandomBiasField { coefficients: [-0.5, 0.5], order: 3, p: 1.0 }.sample(&mut rng(seed));
        assert!(f.coefficients.len() == 20 && f.coefficients.iter().all(|c| c.abs() <= 0.5), "{f:?}");
        let c = RandomBrightnessContrast { multiplier: [0.75, 1.25], shift: [0.0, 0.0], p: 1.0 }
            .sample(&mut rng(seed));
        assert!((0.75..=1.25).contains(&c.multiplier), "{c:?}");
    }
    assert_eq!(
        RandomGamma { log_gamma: [-0.3, 0.3], p: 0.0, rescale: false, invert: false, retain_stats: false }
            .sample(&mut rng(1))
            .gamma,
        1.0
    );
    assert_eq!(
        RandomNoise { std: [0.1, 0.2], mean: [0.0, 0.0], p: 0.0 }.sample(&mut rng(1)),
        Noise { std: 0.0, mean: 0.0, seed: 0 }
    );
    assert!(
        RandomBiasField { coefficients: [-0.5, 0.5], order: 3, p: 0.0 }
            .sample(&mut rng(1))
            .coefficients
            .iter()
            .all(|&c| c == 0.0)
    );
}

#[test]
fn a_draw_is_the_concrete_op_and_applies_to_images_only() {
    let v = anatomy();
    for (name, params) in [
        ("random_gamma", serde_json::json!({})),
        ("random_noise", serde_json::json!({"std": [0.5, 1.0]})),
        ("random_blur", serde_json::json!({"std": [0.5, 1.0]})),
        ("random_bias_field", serde_json::json!({})),
        ("random_brightness_contrast", serde_json::json!({"shift": [-1, 1]})),
        ("random_contrast", serde_json::json!({})),
        ("random_sharpen", serde_json::json!({})),
        ("random_rician_noise", serde_json::json!({"std": [0.5, 1.0]})),
        ("random_gamma", serde_json::json!({"rescale": true, "retain_stats": true})),
    ] {
        let node = op(name, params);
        assert_eq!(node.draw_applies_to(), &[Kind::Image], "{name}");
        assert_eq!(node.output_kind(&std::collections::BTreeMap::new()).expect("kind"), Kind::Draw);
        let Value::Draw(draw) = run(node.as_ref(), vec![]).expect("draw") else {
            panic!("{name}: not a draw")
        };
        // Drawn twice with the same seed: the same op.
        let Value::Draw(again) = run(node.as_ref(), vec![]).expect("draw") else { panic!("not a draw") };
        assert_eq!(
            serde_json::to_string(draw.as_ref()).expect("ser"),
            serde_json::to_string(again.as_ref()).expect("ser")
        );
        // The draw serialises as the deterministic op, parses back, and runs on the image.
        let json = serde_json::to_value(draw.as_ref()).expect("ser");
        let back: Box<dyn Op> = serde_json::from_value(json.clone()).expect("the draw parses back");
        let out = expect_volume(run(back.as_ref(), vec![("volume", vol(v.clone()))]).expect("apply"));
        assert_eq!(out.shape4(), v.shape4(), "{json}");
        let direct = expect_volume(run(draw.as_ref(), vec![("volume", vol(v.clone()))]).expect("apply"));
        assert_eq!(out, direct, "{json}");
    }
    // Neutral draws return the input untouched.
    for neutral in [
        Arc::new(Gamma { gamma: 1.0, rescale: false, invert: false, retain_stats: false }) as Arc<dyn Op>,
        Arc::new(Noise { std: 0.0, mean: 0.0, seed: 3 }),
        Arc::new(BiasField { coefficients: vec![0.0; 20], order: 3 }),
    ] {
        let input = Arc::new(v.clone());
        let out = expect_volume(
            run(neutral.as_ref(), vec![("volume", Value::Volume(input.clone()))]).expect("run"),
        );
        assert!(Arc::ptr_eq(&out, &input));
    }
}
