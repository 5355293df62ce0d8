//! Snapshots of compact summaries (shape, dtype, affine, rounded statistics, label histogram) of
//! spatial ops on the sample data, through their graph nodes (defer + materialise).

use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use voxflow_core::{Deferred, Inputs, Kind, Op, OpError, RunContext, Value, Volume, Voxels, with_labels};
use voxflow_geometry::spatial::materialize;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn run(op_json: serde_json::Value, volume: &Arc<Volume>) -> Volume {
    let op: Box<dyn Op> = serde_json::from_value(op_json).expect("parses");
    op.validate().expect("valid");
    let case_inputs = BTreeMap::new();
    let mat = |d: &Deferred| materialize(d).map_err(OpError::from);
    let mut ctx = RunContext {
        node: "node",
        case_id: "case",
        output_index: 0,
        rng: <voxflow_core::seed::Rng as rand::SeedableRng>::seed_from_u64(0),
        case_inputs: &case_inputs,
        output_dir: std::path::Path::new("."),
        written: Vec::new(),
        materialize: &mat,
    };
    let mut inputs = Inputs::default();
    inputs.0.insert("volume".into(), Value::Volume(Arc::clone(volume)));
    match op.run(&mut ctx, inputs).expect("runs") {
        Value::Deferred(d) => materialize(&d).expect("materialises"),
        Value::Volume(v) => (*v).clone(),
        Value::Draw(_) => panic!("not a volume"),
    }
}

fn round(v: f64, digits: i32) -> f64 {
    let s = 10f64.powi(digits);
    (v * s).round() / s
}

fn summary(v: &Volume) -> serde_json::Value {
    let affine: Vec<Vec<f64>> =
        (0..4).map(|r| (0..4).map(|c| round(v.affine[(r, c)], 4)).collect()).collect();
    let stats = match &v.voxels {
        Voxels::Image(a) => {
            let (sum, min, max) = voxflow_core::volume::stats_f32(a);
            json!({"mean": round(sum / a.len() as f64, 2), "min": round(min, 2), "max": round(max, 2)})
        }
        Voxels::Label(l) => with_labels!(l, |a: T| {
            let mut hist = BTreeMap::new();
            for x in a {
                *hist.entry(x.to_string()).or_insert(0usize) += 1;
            }
            json!({"labels": hist})
        }),
    };
    json!({"shape": v.shape4(), "dtype": v.dtype().to_string(), "affine": affine, "stats": stats})
}

#[test]
fn spatial_ops_on_sample_data() {
    let anatomy = Arc::new(
        voxflow_io_nifti::read(format!("{DATA}someones_anatomy.nii.gz"), Kind::Image).expect("data"),
    );
    let labels = Arc::new(
        voxflow_io_nifti::read(format!("{DATA}mni152_tissue_labels.nii.gz"), Kind::Label).expect("data"),
    );
    let mut out = BTreeMap::new();
    for (name, op, volume) in [
        ("resize_half_linear", json!({"op": "resize", "params": {"factor": 0.5}}), &anatomy),
        (
            "resize_shape_cubic",
            json!({"op": "resize", "params": {"shape": [40, 50, 30], "interpolation": "cubic"}}),
            &anatomy,
        ),
        (
            "rotate_15_cubic_min_fill",
            json!({"op": "rotate", "params": {"axes": [0, 2], "angle": 15, "interpolation": "cubic", "fill": "minimum"}}),
            &anatomy,
        ),
        ("rotate_30_reshape", json!({"op": "rotate", "params": {"angle": 30, "reshape": true}}), &anatomy),
        (
            "scale_1.2_nearest_mode",
            json!({"op": "scale", "params": {"factor": 1.2, "mode": "nearest"}}),
            &anatomy,
        ),
        (
            "shift_fraction",
            json!({"op": "shift", "params": {"offset": [0.1, -0.05, 0], "unit": "fraction"}}),
            &anatomy,
        ),
        (
            "affine_shear",
            json!({"op": "affine", "params": {"matrix": [[1, 0.1, 0, 2], [0, 1, 0, 0], [0, 0, 1, -3]]}}),
            &anatomy,
        ),
        (
            "labels_rotate_onehot",
            json!({"op": "rotate", "params": {"angle": 20, "label_interpolation": "label", "label_fill": 255}}),
            &labels,
        ),
        ("labels_resize_half", json!({"op": "resize", "params": {"factor": 0.5}}), &labels),
    ] {
        out.insert(name, summary(&run(op, volume)));
    }
    insta::assert_json_snapshot!(out);
}
