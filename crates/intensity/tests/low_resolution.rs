//! `low_resolution` / `random_low_resolution`: geometry's zoom down then up on the same grid,
//! the draws, wiring and parameter errors, and snapshots of both nodes on the sample image.

mod common;

use common::{anatomy, expect_volume, frame, label_from, op, run, summary, vol};
use ndarray::{Array3, ArrayView3, Axis};
use rand::SeedableRng;
use std::sync::Arc;
use voxflow_core::{BoundaryMode, Kind, Op, OpError, Port, Value};
use voxflow_geometry::resize::zoom;
use voxflow_geometry::scale::Factor;
use voxflow_intensity::IntensityError;
use voxflow_intensity::low_resolution::{LowResolution, RandomLowResolution, simulate_low_resolution};

fn rng(seed: u64) -> voxflow_core::seed::Rng {
    voxflow_core::seed::Rng::seed_from_u64(seed)
}

/// Mean squared difference between neighbouring voxels along `axis`: high-frequency energy.
fn neighbour_energy(a: ArrayView3<'_, f32>, axis: usize) -> f64 {
    let n = a.shape()[axis];
    let lo = a.slice_axis(Axis(axis), (0..n - 1).into());
    let hi = a.slice_axis(Axis(axis), (1..n).into());
    let sum: f64 = lo.iter().zip(hi.iter()).map(|(&x, &y)| (f64::from(y) - f64::from(x)).powi(2)).sum();
    sum / lo.len() as f64
}

fn mean(a: ArrayView3<'_, f32>) -> f64 {
    a.iter().map(|&v| f64::from(v)).sum::<f64>() / a.len() as f64
}

#[test]
fn zoom_one_is_the_identity() {
    let v = anatomy();
    let f = frame(&v);
    for (down, up) in [(0, 1), (0, 3), (1, 1), (3, 0)] {
        let out = simulate_low_resolution(f, [1.0; 3], down, up).expect("zoom 1");
        assert_eq!(out.view(), f, "orders {down}/{up}");
    }
    // The node hands the very same volume on.
    let input = Arc::new(v.clone());
    let node = LowResolution { zoom: Factor::Isotropic(1.0), down_order: 0, up_order: 3 };
    let out = expect_volume(run(&node, vec![("volume", Value::Volume(input.clone()))]).expect("run"));
    assert!(Arc::ptr_eq(&out, &input));
}

#[test]
fn shape_and_affine_are_kept() {
    let v = anatomy();
    for params in [
        serde_json::json!({"zoom": 0.5}),
        serde_json::json!({"zoom": [0.3, 0.8, 1.0], "up_order": 3}),
        serde_json::json!({"zoom": 0.01}),
    ] {
        let node = op("low_resolution", params.clone());
        let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect("run"));
        assert_eq!(out.shape4(), v.shape4(), "{params}");
        assert_eq!(out.affine, v.affine, "{params}");
        assert_eq!(out.stored_dtype, voxflow_core::DType::F32, "{params}");
        assert_ne!(frame(&out), frame(&v), "{params}: something changed");
    }
}

#[test]
fn half_zoom_is_geometry_zoom_down_then_up() {
    let v = anatomy();
    let f = frame(&v);
    let shape = [f.shape()[0], f.shape()[1], f.shape()[2]];
    for (down, up) in [(0, 1), (0, 3), (1, 1), (0, 0)] {
        let low = zoom(f, [0.5; 3], down, BoundaryMode::Nearest, 0.0, true).expect("down");
        // 57 x 67 x 56 -> round-half-even of the halves.
        assert_eq!(low.shape(), &[28, 34, 28]);
        let back: [f64; 3] = std::array::from_fn(|a| shape[a] as f64 / low.shape()[a] as f64);
        let by_hand = zoom(low.view(), back, up, BoundaryMode::Nearest, 0.0, true).expect("up");
        assert_eq!(by_hand.shape(), f.shape());
        let ours = simulate_low_resolution(f, [0.5; 3], down, up).expect("low resolution");
        assert_eq!(ours, by_hand, "orders {down}/{up}");
    }
}

#[test]
fn high_frequencies_drop_and_the_mean_stays() {
    let v = anatomy();
    let f = frame(&v);
    let out = simulate_low_resolution(f, [0.5; 3], 0, 1).expect("run");
    for axis in 0..3 {
        let (before, after) = (neighbour_energy(f, axis), neighbour_energy(out.view(), axis));
        assert!(after < 0.8 * before, "axis {axis}: {before} -> {after}");
    }
    assert!((mean(out.view()) - mean(f)).abs() < 0.02 * mean(f).abs(), "the mean moved");
    // Only z degraded: detail along z drops.
    let z_only = simulate_low_resolution(f, [1.0, 1.0, 0.4], 0, 1).expect("run");
    let (before, after) = (neighbour_energy(f, 2), neighbour_energy(z_only.view(), 2));
    assert!(after < 0.8 * before, "z: {before} -> {after}");
    // Stronger degradation, less detail.
    let quarter = simulate_low_resolution(f, [0.25; 3], 0, 1).expect("run");
    assert!(neighbour_energy(quarter.view(), 0) < neighbour_energy(out.view(), 0));
}

#[test]
fn linear_upsampling_stays_within_the_input_range() {
    let a = common::synthetic([9, 7, 6]);
    let (lo, hi) = a.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let out = simulate_low_resolution(a.view(), [0.5, 0.6, 0.7], 0, 1).expect("run");
    assert!(out.iter().all(|&x| x >= lo - 1e-5 && x <= hi + 1e-5), "{out:?}");
    // A one-voxel axis stays one voxel (zoom never makes an axis empty).
    let thin = Array3::from_shape_fn((5, 1, 4), |(i, _, k)| (i * 4 + k) as f32);
    let out = simulate_low_resolution(thin.view(), [0.5, 0.5, 0.1], 0, 1).expect("run");
    assert_eq!(out.shape(), thin.shape());
}

#[test]
fn draws_follow_the_seed_the_range_and_the_axes() {
    let random = |per_axis: bool, axes: Vec<usize>, p: f64| RandomLowResolution {
        zoom: [0.4, 0.9],
        per_axis,
        axes,
        p,
        down_order: 0,
        up_order: 1,
    };
    for seed in 0..20 {
        // One zoom for all axes.
        let d = random(false, vec![0, 1, 2], 1.0).sample(&mut rng(seed));
        let [x, y, z] = d.zoom.per_axis();
        assert!((0.4..=0.9).contains(&x) && x == y && y == z, "{d:?}");
        assert_eq!(d, random(false, vec![0, 1, 2], 1.0).sample(&mut rng(seed)), "same seed, same draw");
        // Per axis, y left alone.
        let d = random(true, vec![2, 0], 1.0).sample(&mut rng(seed));
        let [x, y, z] = d.zoom.per_axis();
        assert!((0.4..=0.9).contains(&x) && (0.4..=0.9).contains(&z) && y == 1.0, "{d:?}");
        assert_ne!(x, z, "{d:?}");
        // p = 0: the neutral op.
        let d = random(true, vec![0, 1, 2], 0.0).sample(&mut rng(seed));
        assert_eq!(d, LowResolution { zoom: Factor::PerAxis([1.0; 3]), down_order: 0, up_order: 1 });
    }
    assert_ne!(
        random(false, vec![0, 1, 2], 1.0).sample(&mut rng(1)),
        random(false, vec![0, 1, 2], 1.0).sample(&mut rng(2))
    );
}

#[test]
fn a_draw_is_the_concrete_op_and_p_zero_is_the_identity() {
    let v = anatomy();
    let node = op("random_low_resolution", serde_json::json!({"per_axis": true, "up_order": 3}));
    assert_eq!(node.draw_applies_to(), &[Kind::Image]);
    assert_eq!(node.output_kind(&std::collections::BTreeMap::new()).expect("kind"), Kind::Draw);
    let Value::Draw(draw) = run(node.as_ref(), vec![]).expect("draw") else { panic!("not a draw") };
    let Value::Draw(again) = run(node.as_ref(), vec![]).expect("draw") else { panic!("not a draw") };
    let json = serde_json::to_value(draw.as_ref()).expect("ser");
    assert_eq!(json, serde_json::to_value(again.as_ref()).expect("ser"), "same seed, same draw");
    assert_eq!(json["op"], "low_resolution");
    assert_eq!(json["params"]["up_order"], 3);
    let back: Box<dyn Op> = serde_json::from_value(json.clone()).expect("the draw parses back");
    let out = expect_volume(run(back.as_ref(), vec![("volume", vol(v.clone()))]).expect("apply"));
    let direct = expect_volume(run(draw.as_ref(), vec![("volume", vol(v.clone()))]).expect("apply"));
    assert_eq!(out, direct, "{json}");
    assert_eq!(out.shape4(), v.shape4());

    let skip = op("random_low_resolution", serde_json::json!({"p": 0.0}));
    let Value::Draw(neutral) = run(skip.as_ref(), vec![]).expect("draw") else { panic!("not a draw") };
    let input = Arc::new(v);
    let out =
        expect_volume(run(neutral.as_ref(), vec![("volume", Value::Volume(input.clone()))]).expect("run"));
    assert!(Arc::ptr_eq(&out, &input), "p = 0 returns the input untouched");
}

#[test]
fn bad_parameters_name_the_parameter() {
    use serde_json::json;
    let cases = [
        ("low_resolution", json!({"zoom": 0}), "zoom"),
        ("low_resolution", json!({"zoom": -0.5}), "zoom"),
        ("low_resolution", json!({"zoom": 1.5}), "zoom"),
        ("low_resolution", json!({"zoom": [0.5, 0, 1]}), "zoom"),
        ("low_resolution", json!({"zoom": 0.5, "down_order": 2}), "down_order"),
        ("low_resolution", json!({"zoom": 0.5, "up_order": 5}), "up_order"),
        ("random_low_resolution", json!({"zoom": [0.9, 0.5]}), "zoom"),
        ("random_low_resolution", json!({"zoom": [0, 1]}), "zoom"),
        ("random_low_resolution", json!({"zoom": [0.5, 1.2]}), "zoom"),
        ("random_low_resolution", json!({"axes": [3]}), "axes"),
        ("random_low_resolution", json!({"axes": [0, 0]}), "axes"),
        ("random_low_resolution", json!({"axes": []}), "axes"),
        ("random_low_resolution", json!({"p": 1.5}), "p"),
        ("random_low_resolution", json!({"down_order": 4}), "down_order"),
        ("random_low_resolution", json!({"up_order": 2}), "up_order"),
    ];
    for (name, params, param) in cases {
        let node = op(name, params.clone());
        let err = node.validate().expect_err(&format!("{name} {params}"));
        assert!(matches!(&err, OpError::Param { param: p, .. } if *p == param), "{name} {params}: {err}");
    }
    // The plain function checks too.
    let a = common::synthetic([6, 5, 4]);
    for (zoom, down, up, param) in
        [([0.5, 1.0, 2.0], 0, 1, "zoom"), ([0.5; 3], 2, 1, "down_order"), ([0.5; 3], 0, 7, "up_order")]
    {
        let err = simulate_low_resolution(a.view(), zoom, down, up).expect_err("bad");
        assert!(matches!(&err, IntensityError::Param { param: p, .. } if *p == param), "{err}");
    }
    // Unknown fields are refused when the graph is parsed.
    for (name, params) in [
        ("low_resolution", json!({"zoom": 0.5, "zoom_mode": 1})),
        ("random_low_resolution", json!({"axis": [0]})),
    ] {
        let parsed: Result<Box<dyn Op>, _> = serde_json::from_value(json!({"op": name, "params": params}));
        assert!(parsed.is_err(), "{name}");
    }
}

#[test]
fn a_label_map_is_refused() {
    let v = anatomy();
    let labels = label_from(&v, &[40.0]);
    let node = op("low_resolution", serde_json::json!({"zoom": 0.5}));
    assert_eq!(node.ports(), &[Port::IMAGE]);
    assert!(!node.ports()[0].accepts.contains(&Kind::Label));
    let err = run(node.as_ref(), vec![("volume", vol(labels))]).expect_err("a label map");
    assert!(matches!(&err, OpError::Input { port, .. } if port == "volume"), "{err}");
    let random = op("random_low_resolution", serde_json::json!({}));
    assert_eq!(random.draw_applies_to(), &[Kind::Image], "its draw never reaches a label map");
}

#[test]
fn both_nodes_on_the_sample() {
    let v = anatomy();
    let node = op("low_resolution", serde_json::json!({"zoom": 0.5}));
    let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect("run"));
    insta::assert_json_snapshot!(
        "low_resolution",
        serde_json::json!({"op": "low_resolution", "params": {"zoom": 0.5}, "output": summary(&out)})
    );
    let params = serde_json::json!({"zoom": [0.3, 0.8], "per_axis": true, "axes": [0, 2]});
    let node = op("random_low_resolution", params.clone());
    let Value::Draw(draw) = run(node.as_ref(), vec![]).expect("draw") else { panic!("not a draw") };
    let out = expect_volume(run(draw.as_ref(), vec![("volume", vol(v))]).expect("apply"));
    insta::assert_json_snapshot!(
        "random_low_resolution",
        serde_json::json!({
            "op": "random_low_resolution",
            "params": params,
            "draw": serde_json::to_value(draw.as_ref()).expect("ser"),
            "output": summary(&out),
        })
    );
}
