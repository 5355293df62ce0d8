//! The `elastic` and `random_elastic` nodes on the sample image: identity, one field shared by
//! image and label, label safety, fusion with a preceding affine, parameters, snapshots.

#![allow(clippy::unwrap_used)] // tests: a failure is the panic

use ndarray::{Array3, Array4, Axis};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use voxflow_core::seed::{DrawKey, rng_for};
use voxflow_core::{
    Apply, Deferred, Inputs, Kind, LabelArray, Op, OpError, ResampleSpec, RunContext, Value, Volume, Voxels,
};
use voxflow_elastic::{
    ControlGridParams, Elastic, Model, RandomElastic, RandomModel, SimardParams, SimardRange,
};
use voxflow_geometry::spatial::{self, Resampling, Step};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn anatomy() -> Arc<Volume> {
    Arc::new(
        voxflow_io_nifti::read(format!("{DATA}someones_anatomy.nii.gz"), Kind::Image).expect("sample image"),
    )
}

/// The image thresholded at `t`: 1 above, 0 elsewhere.
fn threshold(image: &Array4<f32>, t: f32) -> Array3<u8> {
    image.index_axis(Axis(3), 0).mapv(|v| u8::from(v > t))
}

fn threshold_label(image: &Volume, t: f32) -> Arc<Volume> {
    Arc::new(Volume::label3(threshold(image.image().unwrap(), t), image.affine))
}

fn run(op: &dyn Op, inputs: Vec<(&str, Value)>) -> Result<Value, OpError> {
    let materialize = |d: &Deferred| spatial::materialize(d).map_err(OpError::from);
    let case_inputs = BTreeMap::new();
    let mut ctx = RunContext {
        node: "warp",
        case_id: "case",
        output_index: 0,
        rng: rng_for(&DrawKey { graph_seed: 3, case_id: "case", output_index: 0, node: "warp" }),
        case_inputs: &case_inputs,
        output_dir: Path::new("."),
        written: Vec::new(),
        materialize: &materialize,
    };
    let mut map = Inputs::default();
    for (k, v) in inputs {
        map.0.insert(k.into(), v);
    }
    op.run(&mut ctx, map)
}

fn volume_of(v: Value) -> Volume {
    match v {
        Value::Volume(v) => (*v).clone(),
        Value::Deferred(d) => spatial::materialize(&d).expect("resample"),
        Value::Draw(_) => panic!("a draw"),
    }
}

fn simard(alpha: f64, sigma: f64, seed: u64) -> Elastic {
    Elastic::new(Model::Simard(SimardParams { alpha, sigma }), seed, Resampling::default())
}

fn labels_u8(v: &Volume) -> Array3<u8> {
    match v.labels().expect("a label map") {
        LabelArray::U8(a) => a.index_axis(Axis(3), 0).to_owned(),
        other => panic!("label type changed to {}", other.dtype()),
    }
}

fn dice(a: &Array3<u8>, b: &Array3<u8>) -> f64 {
    let (mut both, mut total) = (0usize, 0usize);
    for (&x, &y) in a.iter().zip(b) {
        both += usize::from(x == 1 && y == 1);
        total += usize::from(x == 1) + usize::from(y == 1);
    }
    2.0 * both as f64 / total as f64
}

#[test]
fn zero_alpha_and_zero_displacement_are_the_identity() {
    let image = anatomy();
    for op in [
        simard(0.0, 35.0, 1),
        Elastic::new(
            Model::ControlGrid(ControlGridParams {
                max_displacement: [0.0; 3],
                ..ControlGridParams::default()
            }),
            1,
            Resampling::default(),
        ),
        Elastic::new(Model::Identity, 0, Resampling::default()),
    ] {
        let out = run(&op, vec![("volume", Value::Volume(Arc::clone(&image)))]).unwrap();
        assert!(matches!(out, Value::Volume(_)), "no resample pending");
        assert_eq!(volume_of(out), *image);
        assert_eq!(op.apply_to(&image).unwrap(), *image);
    }
    // A zero field through the resampling core is exact too.
    let mut spec = ResampleSpec::identity(
        &image,
        voxflow_core::Interpolation::Linear,
        voxflow_core::BoundaryMode::default(),
        voxflow_core::Fill::default(),
    );
    let [x, y, z] = spec.shape;
    spec.field = Some(Arc::new(Array4::zeros((x, y, z, 3))));
    assert_eq!(voxflow_geometry::resample::resample_volume(&image, &spec).unwrap(), *image);
}

#[test]
fn image_and_label_share_one_field_and_stay_consistent() {
    let image = anatomy();
    // The head against the background (intensity 30). Inside the head, a threshold cuts through
    // noisy tissue, where nearest-of-the-mask and threshold-of-linear disagree for any motion,
    // even a sub-voxel one (scipy gives Dice 0.92 at 60 for every alpha, 0.97 at 30).
    let t = 30.0;
    let label = threshold_label(&image, t);
    for model in [
        RandomModel::Simard(SimardRange { alpha: [600.0, 900.0], sigma: [9.0, 13.0] }),
        RandomModel::ControlGrid(ControlGridParams {
            max_displacement: [15.0; 3],
            ..ControlGridParams::default()
        }),
    ] {
        let random = RandomElastic { model, ..RandomElastic::default() };
        let Value::Draw(draw) = run(&random, vec![]).unwrap() else { panic!("a draw") };
        let warped_image = volume_of(
            run(
                &Apply {},
                vec![("volume", Value::Volume(Arc::clone(&image))), ("draw", Value::Draw(Arc::clone(&draw)))],
            )
            .unwrap(),
        );
        let warped_label = volume_of(
            run(&Apply {}, vec![("volume", Value::Volume(Arc::clone(&label))), ("draw", Value::Draw(draw))])
                .unwrap(),
        );
        assert_eq!(warped_label.kind(), Kind::Label);
        let moved =
            image.image().unwrap().iter().zip(warped_image.image().unwrap()).filter(|(a, b)| a != b).count();
        assert!(moved > 10_000, "{model:?}: only {moved} voxels changed");
        let d = dice(&labels_u8(&warped_label), &threshold(warped_image.image().unwrap(), t));
        println!("{model:?}: Dice {d:.4}");
        assert!(d >= 0.95, "{model:?}: Dice {d}");
        // Labels never gain values.
        assert!(labels_u8(&warped_label).iter().all(|&v| v <= 1));
    }
}

#[test]
fn the_field_is_computed_once_per_draw() {
    let op = simard(500.0, 10.0, 4);
    let a = op.field([20, 21, 22], [1.0; 3]).unwrap().unwrap();
    let b = op.field([20, 21, 22], [1.0; 3]).unwrap().unwrap();
    assert!(Arc::ptr_eq(&a, &b));
    // A clone (e.g. the op replayed from its manifest line) has the same field.
    let replayed: Box<dyn Op> =
        serde_json::from_str(&serde_json::to_string(&op as &dyn Op).unwrap()).unwrap();
    let image =
        Volume::image3(Array3::from_shape_fn((20, 21, 22), |(x, y, z)| (x * y + z) as f32), op_affine());
    assert_eq!(
        volume_of(run(replayed.as_ref(), vec![("volume", Value::Volume(Arc::new(image.clone())))]).unwrap()),
        op.apply_to(&image).unwrap()
    );
    let dense = |f: &dyn voxflow_core::DisplacementField| voxflow_core::resample::dense_field(f);
    let replayed_field = Elastic::clone(&op).field([20, 21, 22], [1.0; 3]).unwrap().unwrap();
    assert_eq!(dense(&*replayed_field), dense(&*a));
}

fn op_affine() -> voxflow_core::Affine {
    voxflow_core::Affine::new_scaling(1.0)
}

#[test]
fn a_preceding_affine_is_fused_into_one_resample() {
    let image = anatomy();
    let shift = nalgebra::Matrix4::new_translation(&nalgebra::Vector3::new(2.0, -1.0, 0.0));
    let step = Step { shape: image.shape3(), affine: image.affine, out_to_in: shift };
    let pending = spatial::defer(Value::Volume(Arc::clone(&image)), &step, &Resampling::default()).unwrap();
    let op = simard(700.0, 10.0, 2);
    let Value::Deferred(fused) = run(&op, vec![("volume", pending)]).unwrap() else { panic!("deferred") };
    assert_eq!(fused.spec.out_to_in, shift);
    assert!(Arc::ptr_eq(&fused.source, &image), "one resample from the source");
    let field = op.field(image.shape3(), image.spacing()).unwrap().unwrap();
    assert!(Arc::ptr_eq(fused.spec.field.as_ref().unwrap(), &field));
    // Equivalent: in = shift · (out + d(out)) , the field sampled then shifted.
    let out = spatial::materialize(&fused).unwrap();
    assert_eq!(out.shape3(), image.shape3());
    // A second elastic after the first resamples the first, then adds its own field.
    let Value::Deferred(second) =
        run(&simard(300.0, 9.0, 3), vec![("volume", Value::Deferred(fused))]).unwrap()
    else {
        panic!("deferred")
    };
    assert_eq!(second.spec.out_to_in, nalgebra::Matrix4::identity());
    assert!(!Arc::ptr_eq(&second.source, &image));
}

#[test]
fn parameters_parse_validate_and_name_the_culprit() {
    let op: Box<dyn Op> = serde_json::from_str(
        r#"{"op": "elastic", "params": {"model": {"type": "simard", "alpha": 4, "sigma": 35}, "seed": 7, "fill": 0.1}}"#,
    )
    .unwrap();
    op.validate().unwrap();
    let op: Box<dyn Op> = serde_json::from_str(
        r#"{"op": "random_elastic", "params": {"p": 0.5, "model": {"type": "control_grid", "num_control_points": [7, 7, 5], "max_displacement": 10}, "label_interpolation": "label"}}"#,
    )
    .unwrap();
    op.validate().unwrap();
    for (json, culprit) in [
        (
            r#"{"op": "elastic", "params": {"model": {"type": "simard", "alpha": 4, "sigma": 35}, "sed": 7}}"#,
            "sed",
        ),
        (r#"{"op": "elastic", "params": {"model": {"type": "simard", "alpha": 4, "sigm": 35}}}"#, "sigm"),
        (r#"{"op": "random_elastic", "params": {"model": {"type": "twirl"}}}"#, "twirl"),
    ] {
        let e = serde_json::from_str::<Box<dyn Op>>(json).unwrap_err().to_string();
        assert!(e.contains(culprit), "{e}");
    }
    for (json, culprit) in [
        (r#"{"op": "elastic", "params": {"model": {"type": "simard", "alpha": 4, "sigma": 0}}}"#, "`sigma`"),
        (r#"{"op": "random_elastic", "params": {"p": 2}}"#, "`p`"),
        (r#"{"op": "random_elastic", "params": {"model": {"type": "simard", "alpha": [5, 1]}}}"#, "`alpha`"),
        (r#"{"op": "random_elastic", "params": {"label_interpolation": "linear"}}"#, "`label_interpolation`"),
        (
            r#"{"op": "elastic", "params": {"model": {"type": "control_grid", "locked_borders": 3}}}"#,
            "`locked_borders`",
        ),
    ] {
        let op: Box<dyn Op> = serde_json::from_str(json).unwrap();
        let e = op.validate().unwrap_err().to_string();
        assert!(e.contains(culprit), "{json}: {e}");
    }
    // A draw fed a draw is an error, not a panic.
    let e =
        run(&simard(1.0, 5.0, 0), vec![("volume", Value::Draw(Arc::new(simard(1.0, 5.0, 0))))]).unwrap_err();
    assert!(e.to_string().contains("draw"), "{e}");
}

#[test]
fn skipped_draws_are_the_identity_and_draws_are_reproducible() {
    let skip = RandomElastic { p: 0.0, ..RandomElastic::default() };
    let Value::Draw(d) = run(&skip, vec![]).unwrap() else { panic!("a draw") };
    assert_eq!(
        serde_json::to_string(&*d).unwrap(),
        r#"{"op":"elastic","params":{"model":{"type":"identity"},"seed":0,"interpolation":"linear","label_interpolation":"nearest","mode":"constant","fill":"minimum","label_fill":0}}"#
    );
    let Value::Draw(a) = run(&RandomElastic::default(), vec![]).unwrap() else { panic!("a draw") };
    let Value::Draw(b) = run(&RandomElastic::default(), vec![]).unwrap() else { panic!("a draw") };
    assert_eq!(serde_json::to_string(&*a).unwrap(), serde_json::to_string(&*b).unwrap());
}

/// A compact, stable summary of a volume for snapshots.
fn summary(v: &Volume) -> serde_json::Value {
    let (hash, stats) = match &v.voxels {
        Voxels::Image(a) => {
            let (sum, min, max) = voxflow_core::volume::stats_f32(a);
            (
                fnv(a.iter().flat_map(|x| x.to_le_bytes())),
                serde_json::json!({"sum": (sum * 10.0).round() / 10.0, "min": (min * 1e3).round() / 1e3, "max": (max * 1e3).round() / 1e3}),
            )
        }
        Voxels::Label(_) => {
            let l = labels_u8(v);
            let mut hist = BTreeMap::new();
            l.iter().for_each(|&x| *hist.entry(x).or_insert(0usize) += 1);
            (fnv(l.iter().copied()), serde_json::json!({ "histogram": hist }))
        }
    };
    serde_json::json!({
        "shape": v.shape4(), "dtype": v.dtype().to_string(), "kind": v.kind().to_string(),
        "affine": v.affine.row_iter().map(|r| r.iter().map(|x| (x * 1e4).round() / 1e4).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "stats": stats, "fnv": format!("{hash:016x}"),
    })
}

fn fnv(bytes: impl IntoIterator<Item = u8>) -> u64 {
    let mut h = voxflow_core::hash::Fnv1a::default();
    bytes.into_iter().for_each(|b| h.write(&[b]));
    h.finish()
}

#[test]
fn snapshots() {
    let image = anatomy();
    let label = threshold_label(&image, 30.0);
    let grid = Elastic::new(Model::ControlGrid(ControlGridParams::default()), 11, Resampling::default());
    let tutorial: Box<dyn Op> = serde_json::from_str(
        r#"{"op": "elastic", "params": {"model": {"type": "simard", "alpha": 800, "sigma": 11}, "seed": 5, "fill": 0.1}}"#,
    )
    .unwrap();
    let random = RandomElastic::default();
    let Value::Draw(draw) = run(&random, vec![]).unwrap() else { panic!("a draw") };
    let draw_json: serde_json::Value = serde_json::from_str(&serde_json::to_string(&*draw).unwrap()).unwrap();
    let apply = |op: &dyn Op, v: &Arc<Volume>| {
        volume_of(run(op, vec![("volume", Value::Volume(Arc::clone(v)))]).unwrap())
    };
    insta::assert_json_snapshot!(
        "elastic_simard",
        serde_json::json!({
            "image": summary(&apply(tutorial.as_ref(), &image)),
            "label": summary(&apply(tutorial.as_ref(), &label)),
        })
    );
    insta::assert_json_snapshot!(
        "elastic_control_grid",
        serde_json::json!({
            "image": summary(&apply(&grid, &image)),
            "label": summary(&apply(&grid, &label)),
        })
    );
    insta::assert_json_snapshot!(
        "random_elastic",
        serde_json::json!({
            "draw": draw_json,
            "image": summary(&apply(draw.as_ref(), &image)),
        })
    );
}

#[test]
fn label_values_stay_a_subset_with_nearest_and_one_hot() {
    // Labels 0, 2, 7 (not contiguous), i16: nearest and one-hot `label` interpolation both keep
    // the type and never invent a value, even with the fill label 0 outside.
    let data = Array3::from_shape_fn((24, 20, 16), |(x, y, z)| match (x + y + z) % 9 {
        0..=2 => 0i16,
        3..=5 => 2,
        _ => 7,
    });
    let label = Volume::label3(data, voxflow_core::Affine::new_scaling(1.5));
    for label_interpolation in [voxflow_core::Interpolation::Nearest, voxflow_core::Interpolation::Label] {
        let op = Elastic::new(
            Model::Simard(SimardParams { alpha: 400.0, sigma: 5.0 }),
            8,
            Resampling { label_interpolation, ..Resampling::default() },
        );
        let out = op.apply_to(&label).unwrap();
        let LabelArray::I16(a) = out.labels().unwrap() else { panic!("label type changed") };
        let mut seen: Vec<i16> = a.iter().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen, vec![0, 2, 7], "{label_interpolation:?}");
        assert_ne!(out, label, "{label_interpolation:?}: nothing moved");
    }
}
