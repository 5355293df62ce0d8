//! Parameters: unknown keys and out-of-range values are errors naming the parameter; random
//! spatial ops draw reproducibly and within their ranges; nodes defer and materialise.

use nalgebra::Matrix4;
use ndarray::{Array3, ShapeBuilder};
use rand::SeedableRng;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use voxflow_core::seed::Rng;
use voxflow_core::{BoundaryMode, Deferred, Inputs, Interpolation, Op, OpError, RunContext, Value, Volume};
use voxflow_geometry::resize::zoom;
use voxflow_geometry::rotate::rotate;
use voxflow_geometry::spatial::materialize;

fn op(value: serde_json::Value) -> Result<Box<dyn Op>, serde_json::Error> {
    serde_json::from_value(value)
}

/// The parameter named by a validation error.
fn bad_param(value: serde_json::Value) -> &'static str {
    let op = op(value.clone()).unwrap_or_else(|e| panic!("{value} should parse: {e}"));
    match op.validate() {
        Err(OpError::Param { param, .. }) => param,
        other => panic!("{value}: expected a parameter error, got {other:?}"),
    }
}

#[test]
fn unknown_parameters_are_rejected_when_parsing() {
    for (name, params) in [
        ("rotate", json!({"angle": 10, "angel": 3})),
        ("scale", json!({"factor": 1.1, "interp": "linear"})),
        ("shift", json!({"offset": [1, 2, 3], "units": "mm"})),
        ("resize", json!({"factor": 0.5, "order": 1})),
        ("affine", json!({"matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]], "offset": [0, 0, 0]})),
        ("random_rotate", json!({"degree": [-5, 5]})),
        ("random_scale", json!({"range": [0.9, 1.1], "prob": 0.5})),
        ("random_shift", json!({"maximum": [1, 1, 1]})),
    ] {
        let err = op(json!({"op": name, "params": params})).expect_err("an unknown key must not parse");
        assert!(err.to_string().contains("unknown"), "{name}: {err}");
    }
    // Resampling settings are accepted by every spatial op.
    let ok = json!({"op": "rotate", "params": {"angle": 10, "interpolation": "cubic", "label_interpolation": "label",
        "mode": "reflect", "fill": "minimum", "label_fill": 255}});
    op(ok).expect("resampling settings are parameters of every spatial op");
}

#[test]
fn out_of_range_parameters_name_the_parameter() {
    let cases = [
        (json!({"op": "resize", "params": {"factor": 0}}), "factor"),
        (json!({"op": "resize", "params": {"factor": [1, -2, 1]}}), "factor"),
        (json!({"op": "resize", "params": {"factor": 2, "shape": [4, 4, 4]}}), "factor"),
        (json!({"op": "resize", "params": {"shape": [4, 0, 4]}}), "shape"),
        (json!({"op": "scale", "params": {"factor": 0.0}}), "factor"),
        (json!({"op": "rotate", "params": {"angle": 5, "axes": [0, 3]}}), "axes"),
        (json!({"op": "rotate", "params": {"angle": 5, "axes": [1, 1]}}), "axes"),
        (json!({"op": "rotate", "params": {"angle": 5, "interpolation": "label"}}), "interpolation"),
        (
            json!({"op": "rotate", "params": {"angle": 5, "label_interpolation": "cubic"}}),
            "label_interpolation",
        ),
        (json!({"op": "affine", "params": {"matrix": [[1, 0, 0], [0, 0, 0], [0, 0, 1]]}}), "matrix"),
        (json!({"op": "affine", "params": {"matrix": [[1, 0], [0, 1]]}}), "matrix"),
        (json!({"op": "random_rotate", "params": {"degrees": [10, -10]}}), "degrees"),
        (json!({"op": "random_rotate", "params": {"planes": [[0, 5]]}}), "planes"),
        (json!({"op": "random_rotate", "params": {"p": 1.5}}), "p"),
        (json!({"op": "random_scale", "params": {"range": [1.2, 0.7]}}), "range"),
        (json!({"op": "random_scale", "params": {"range": [-1, 2]}}), "range"),
        (json!({"op": "random_shift", "params": {"max": [1, -1, 0]}}), "max"),
    ];
    for (value, param) in cases {
        assert_eq!(bad_param(value.clone()), param, "{value}");
    }
    let x = Array3::<f32>::zeros((4, 4, 4));
    let order = zoom(x.view(), [2.0; 3], 2, BoundaryMode::Constant, 0.0, false).expect_err("order 2");
    assert!(order.to_string().contains("order"));
    let axes = rotate(x.view(), 5.0, [0, 4], false, 1, BoundaryMode::Constant, 0.0).expect_err("axis 4");
    assert!(axes.to_string().contains("axes"));
}

fn with_ctx<R>(seed: u64, f: impl FnOnce(&mut RunContext<'_>) -> R) -> R {
    let case_inputs = BTreeMap::new();
    let materialize = |d: &Deferred| materialize(d).map_err(OpError::from);
    let mut ctx = RunContext {
        node: "node",
        case_id: "case",
        output_index: 0,
        rng: Rng::seed_from_u64(seed),
        case_inputs: &case_inputs,
        output_dir: std::path::Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    f(&mut ctx)
}

fn draw(op_json: serde_json::Value, seed: u64) -> Arc<dyn Op> {
    let op = op(op_json).expect("parses");
    op.validate().expect("valid");
    match with_ctx(seed, |ctx| op.run(ctx, Inputs::default())).expect("draws") {
        Value::Draw(d) => d,
        other => panic!("expected a draw, got {other:?}"),
    }
}

#[test]
fn random_ops_draw_reproducibly_within_range() {
    for json in [
        json!({"op": "random_rotate", "params": {"degrees": [-20, 20], "integer": true}}),
        json!({"op": "random_rotate", "params": {"per_axis": [[-5, 5], [0, 0], [10, 30]]}}),
        json!({"op": "random_scale", "params": {"range": [0.7, 1.2], "isotropic": false}}),
        json!({"op": "random_shift", "params": {"max": [0.2, 0.2, 0.1], "integer": true}}),
    ] {
        let a = serde_json::to_value(&*draw(json.clone(), 7)).expect("serialises");
        let b = serde_json::to_value(&*draw(json.clone(), 7)).expect("serialises");
        assert_eq!(a, b, "same seed, same draw: {json}");
    }
    for seed in 0..50 {
        let d = serde_json::to_value(&*draw(
            json!({"op": "random_scale", "params": {"range": [0.7, 1.2]}}),
            seed,
        ))
        .expect("serialises");
        let f = d["params"]["factor"].as_f64().expect("an isotropic factor");
        assert!((0.7..=1.2).contains(&f), "{f}");
        let r = serde_json::to_value(&*draw(
            json!({"op": "random_rotate", "params": {"degrees": [-20, 20], "integer": true}}),
            seed,
        ))
        .expect("serialises");
        let angle = r["params"]["angle"].as_f64().expect("an angle");
        assert!(angle.fract() == 0.0 && (-20.0..=20.0).contains(&angle), "{angle}");
    }
    // p = 0: the draw is the identity and leaves the value untouched.
    let none = draw(json!({"op": "random_scale", "params": {"p": 0}}), 1);
    let volume = Arc::new(Volume::image3(Array3::from_elem((5, 5, 5).f(), 1.0f32), Matrix4::identity()));
    let mut inputs = Inputs::default();
    inputs.0.insert("volume".into(), Value::Volume(Arc::clone(&volume)));
    match with_ctx(0, |ctx| none.run(ctx, inputs)).expect("runs") {
        Value::Volume(v) => assert!(Arc::ptr_eq(&v, &volume)),
        other => panic!("identity draw should pass the volume through, got {other:?}"),
    }
}

#[test]
fn nodes_defer_with_the_settings_for_the_volume_kind() {
    let labels = Array3::from_shape_fn((9, 8, 7).f(), |(i, j, k)| ((i + j + k) % 4) as u8);
    let volume = Arc::new(Volume::label3(labels, Matrix4::new_scaling(2.0)));
    let rotate =
        op(json!({"op": "rotate", "params": {"angle": 30, "interpolation": "cubic", "label_fill": 9}}))
            .expect("parses");
    assert!(rotate.accepts_deferred());
    let mut inputs = Inputs::default();
    inputs.0.insert("volume".into(), Value::Volume(volume));
    let out = with_ctx(0, |ctx| rotate.run(ctx, inputs)).expect("runs");
    let Value::Deferred(pending) = out else { panic!("a spatial op defers") };
    assert_eq!(pending.spec.interpolation, Interpolation::Nearest, "label maps never get cubic");
    let result = materialize(&pending).expect("materialises");
    let values: std::collections::BTreeSet<u8> = match &result.voxels {
        voxflow_core::Voxels::Label(voxflow_core::LabelArray::U8(a)) => a.iter().copied().collect(),
        other => panic!("expected u8 labels, got {other:?}"),
    };
    assert!(values.iter().all(|v| *v < 4 || *v == 9), "{values:?}");
    assert!(values.contains(&9), "the corners take the fill label");
}
