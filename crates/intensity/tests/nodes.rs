//! Every node run on the sample image, summarised in a snapshot; wiring and parameter errors.

mod common;

use common::{anatomy, expect_volume, label_from, op, run, summary, vol};
use voxflow_core::{Kind, OpError, Port};

/// Nodes as a graph file names them, with their parameters.
fn nodes() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;
    vec![
        ("clip_20_80", "clip", json!({"min": 20, "max": 80})),
        ("percentile_clip_default", "percentile_clip", json!({})),
        ("percentile_clip_nonzero", "percentile_clip", json!({"lower": 1, "upper": 99, "over": "nonzero"})),
        ("ct_window_brain", "ct_window", json!({"preset": "brain"})),
        ("ct_window_custom_rescaled", "ct_window", json!({"level": 50, "width": 60, "rescale": true})),
        ("normalize_default", "normalize", json!({})),
        ("normalize_minmax", "normalize", json!({"mode": "minmax", "range": [-1, 1]})),
        ("gamma", "gamma", json!({"gamma": 0.8})),
        ("gamma_rescaled_inverted", "gamma", json!({"gamma": 1.3, "rescale": true, "invert": true})),
        ("noise", "noise", json!({"std": 3.0, "seed": 11})),
        ("blur", "blur", json!({"sigma_mm": [2.75, 5.5, 0]})),
        ("bias_field", "bias_field", json!({"order": 1, "coefficients": [0.1, -0.2, 0.3, 0.2]})),
        ("brightness_contrast", "brightness_contrast", json!({"multiplier": 0.9, "shift": 5})),
        ("gamma_retain_stats", "gamma", json!({"gamma": 1.3, "rescale": true, "retain_stats": true})),
        ("contrast", "contrast", json!({"factor": 1.4})),
        ("sharpen", "sharpen", json!({"sigma1_mm": 3.0, "sigma2_mm": 1.5, "alpha": 10})),
        ("rician_noise", "rician_noise", json!({"std": 3.0, "seed": 11})),
        (
            "dropout",
            "dropout",
            json!({"boxes": [{"start": [10, 20, 15], "size": [12, 10, 8]}, {"start": [50, 60, 50], "size": [20, 20, 20]}], "fill": "mean"}),
        ),
    ]
}

#[test]
fn every_node_on_the_sample() {
    let v = anatomy();
    for (name, op_name, params) in nodes() {
        let node = op(op_name, params.clone());
        assert_eq!(node.ports()[0], Port::IMAGE, "{name}: intensity ops take an image");
        let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect(name));
        assert_eq!(out.affine, v.affine, "{name}");
        insta::assert_json_snapshot!(
            name,
            serde_json::json!({"op": op_name, "params": params, "output": summary(&out)})
        );
    }
}

#[test]
fn masked_nodes_on_the_sample() {
    let v = anatomy();
    let mask = label_from(&v, &[40.0]);
    for (name, op_name, params) in [
        (
            "percentile_clip_mask",
            "percentile_clip",
            serde_json::json!({"lower": 2, "upper": 98, "over": "mask"}),
        ),
        ("normalize_mask", "normalize", serde_json::json!({"over": "mask"})),
    ] {
        let node = op(op_name, params.clone());
        let out = expect_volume(
            run(node.as_ref(), vec![("volume", vol(v.clone())), ("mask", vol(mask.clone()))]).expect(name),
        );
        insta::assert_json_snapshot!(
            name,
            serde_json::json!({"op": op_name, "params": params, "output": summary(&out)})
        );
    }
}

#[test]
fn a_label_map_is_refused() {
    let v = anatomy();
    let labels = label_from(&v, &[40.0]);
    for (name, op_name, params) in nodes() {
        let node = op(op_name, params);
        assert!(!node.ports()[0].accepts.contains(&Kind::Label), "{name}");
        let err = run(node.as_ref(), vec![("volume", vol(labels.clone()))]).expect_err(name);
        assert!(matches!(&err, OpError::Input { port, .. } if port == "volume"), "{name}: {err}");
    }
}

#[test]
fn mask_wiring_mistakes_are_errors() {
    let v = anatomy();
    let mask = label_from(&v, &[40.0]);
    // A mask without over: mask, over: mask without a mask, a mask on another grid.
    let node = op("normalize", serde_json::json!({"over": "nonzero"}));
    let err =
        run(node.as_ref(), vec![("volume", vol(v.clone())), ("mask", vol(mask.clone()))]).expect_err("mask");
    assert!(matches!(&err, OpError::Input { port, .. } if port == "mask"), "{err}");
    let node = op("percentile_clip", serde_json::json!({"over": "mask"}));
    let err = run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect_err("no mask");
    assert!(matches!(&err, OpError::Input { port, .. } if port == "mask"), "{err}");
    let mut moved = mask.clone();
    moved.affine[(0, 3)] += 5.0;
    let node = op("normalize", serde_json::json!({"over": "mask"}));
    let err = run(node.as_ref(), vec![("volume", vol(v.clone())), ("mask", vol(moved))]).expect_err("grid");
    assert!(err.to_string().contains("affine"), "{err}");
    let small = common::image(common::synthetic([6, 5, 4]), 1.0);
    let small_mask = label_from(&small, &[0.0]);
    let err = run(node.as_ref(), vec![("volume", vol(v)), ("mask", vol(small_mask))]).expect_err("shape");
    assert!(err.to_string().contains("shape"), "{err}");
}

#[test]
fn bad_parameters_name_the_parameter() {
    use serde_json::json;
    let cases = [
        ("clip", json!({"min": 5, "max": 1}), "max"),
        ("percentile_clip", json!({"lower": 95, "upper": 5}), "upper"),
        ("percentile_clip", json!({"lower": -1}), "lower"),
        ("ct_window", json!({"level": 40}), "width"),
        ("ct_window", json!({"level": 40, "width": -3}), "width"),
        ("ct_window", json!({"preset": "brain", "level": 3, "width": 3}), "preset"),
        ("normalize", json!({"ddof": 3}), "ddof"),
        ("gamma", json!({"gamma": -1}), "gamma"),
        ("random_gamma", json!({"log_gamma": [0.3, -0.3]}), "log_gamma"),
        ("random_gamma", json!({"p": 1.5}), "p"),
        ("noise", json!({"std": -1}), "std"),
        ("random_noise", json!({"std": [-1, 1]}), "std"),
        ("blur", json!({"sigma_mm": -1}), "sigma_mm"),
        ("blur", json!({"sigma_mm": 1, "truncate": 0}), "truncate"),
        ("random_blur", json!({"std": [2, 1]}), "std"),
        ("bias_field", json!({"coefficients": [1, 2]}), "coefficients"),
        ("bias_field", json!({"coefficients": [], "order": 200}), "order"),
        ("random_bias_field", json!({"order": 9}), "order"),
        ("normalize", json!({"mode": "minmax", "range": [1, 0]}), "range"),
        ("random_brightness_contrast", json!({"multiplier": [2, 1]}), "multiplier"),
        ("contrast", json!({"factor": -0.5}), "factor"),
        ("random_contrast", json!({"factor": [1.5, 1.0]}), "factor"),
        ("random_contrast", json!({"factor": [-1.0, 1.0]}), "factor"),
        ("sharpen", json!({"sigma1_mm": -1}), "sigma1_mm"),
        ("sharpen", json!({"sigma2_mm": [1, 1, -1]}), "sigma2_mm"),
        ("sharpen", json!({"truncate": 0}), "truncate"),
        ("random_sharpen", json!({"sigma1": [1, 0.5]}), "sigma1"),
        ("random_sharpen", json!({"sigma2": 0.8}), "sigma2"),
        ("random_sharpen", json!({"sigma2": [0.3, 0.1]}), "sigma2"),
        ("random_sharpen", json!({"alpha": [30, 10]}), "alpha"),
        ("rician_noise", json!({"std": -1}), "std"),
        ("random_rician_noise", json!({"std": [-1, 1]}), "std"),
        ("random_rician_noise", json!({"mean": [1, -1]}), "mean"),
    ];
    for (name, params, param) in cases {
        let node = op(name, params.clone());
        let err = node.validate().expect_err(&format!("{name} {params}"));
        assert!(matches!(&err, OpError::Param { param: p, .. } if *p == param), "{name} {params}: {err}");
    }
    // Unknown fields are refused when the graph is parsed.
    for (name, params) in [
        ("clip", json!({"min": 0, "max": 1, "mni": 0})),
        ("random_gamma", json!({"gama": 1})),
        ("contrast", json!({"factor": 1, "preserve": true})),
        ("sharpen", json!({"sigma1": 1})),
        ("rician_noise", json!({"std": 1, "sd": 1})),
        ("dropout", json!({"boxes": [{"start": [0, 0, 0], "size": [1, 1, 1], "end": [1, 1, 1]}]})),
        ("random_dropout", json!({"size": [1, 1, 1], "holes_max": 3})),
    ] {
        let parsed: Result<Box<dyn voxflow_core::Op>, _> =
            serde_json::from_value(json!({"op": name, "params": params}));
        assert!(parsed.is_err(), "{name}");
    }
}

#[test]
fn four_d_images_are_processed_frame_by_frame() {
    use ndarray::{Array4, Axis, ShapeBuilder};
    // Three frames: the synthetic volume scaled by 1, 2, 3.
    let base = common::synthetic([6, 5, 4]);
    let data = Array4::from_shape_fn((6, 5, 4, 3).f(), |(i, j, k, t)| base[[i, j, k]] * (t + 1) as f32);
    let v = voxflow_core::Volume {
        voxels: voxflow_core::Voxels::Image(data.clone()),
        affine: voxflow_core::Affine::identity(),
        stored_dtype: voxflow_core::DType::F32,
    };
    // z-score per frame: every frame normalises to the same values.
    let node = op("normalize", serde_json::json!({"over": "all"}));
    let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect("4D normalize"));
    let a = out.image().expect("image");
    assert_eq!(a.shape(), &[6, 5, 4, 3]);
    for t in 1..3 {
        for (x, y) in a.index_axis(Axis(3), 0).iter().zip(a.index_axis(Axis(3), t).iter()) {
            assert!((x - y).abs() < 1e-5, "frame {t}: {x} vs {y}");
        }
    }
    // Noise differs between frames; a one-frame mask serves every frame.
    let node = op("noise", serde_json::json!({"std": 1.0, "seed": 5}));
    let out = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect("4D noise"));
    let a = out.image().expect("image");
    let d0 = &a.index_axis(Axis(3), 0) - &data.index_axis(Axis(3), 0);
    let d1 = &a.index_axis(Axis(3), 1) - &data.index_axis(Axis(3), 1);
    assert_ne!(d0, d1);
    let mask = label_from(&common::image(base, 1.0), &[0.0]);
    let node = op("percentile_clip", serde_json::json!({"over": "mask"}));
    let out =
        expect_volume(run(node.as_ref(), vec![("volume", vol(v)), ("mask", vol(mask))]).expect("4D mask"));
    assert_eq!(out.shape4(), [6, 5, 4, 3]);
}

#[test]
fn in_place_and_copying_runs_agree() {
    // A volume no other node holds is transformed in place; a shared one is copied and left
    // untouched. Both give the same output.
    let v = anatomy();
    for (name, op_name, params) in nodes() {
        let node = op(op_name, params);
        let unique = expect_volume(run(node.as_ref(), vec![("volume", vol(v.clone()))]).expect(name));
        let shared = std::sync::Arc::new(v.clone());
        let out = expect_volume(
            run(node.as_ref(), vec![("volume", voxflow_core::Value::Volume(shared.clone()))]).expect(name),
        );
        assert_eq!(out, unique, "{name}");
        assert_eq!(*shared, v, "{name}: the shared input was modified");
    }
}
