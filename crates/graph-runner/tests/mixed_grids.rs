//! A case whose volumes lie on different grids: `resample_to` brings one onto the other's grid
//! in world space, after which one draw moves both alike; applying one draw to volumes on two
//! grids is refused with both nodes named.

use nalgebra::{Rotation3, Vector3, Vector4};
use ndarray::Array3;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use voxflow_core::{Affine, Volume};
use voxflow_graph_runner::run::{Capture, CaseRunner};
use voxflow_graph_runner::{Case, Graph};

/// An oblique, anisotropic grid centred on the world origin.
fn grid(shape: [usize; 3], zooms: [f64; 3], angles: [f64; 3]) -> Affine {
    let r = Rotation3::from_euler_angles(angles[0], angles[1], angles[2]);
    let m = r.matrix() * nalgebra::Matrix3::from_diagonal(&Vector3::from(zooms));
    let mut a = Affine::identity();
    a.fixed_view_mut::<3, 3>(0, 0).copy_from(&m);
    let half = Vector3::from(shape.map(|n| (n as f64 - 1.0) / 2.0));
    let t = -(m * half);
    for i in 0..3 {
        a[(i, 3)] = t[i];
    }
    a
}

/// Whether voxel `(i, j, k)` of `affine` lies in a world-space ellipsoid (off-centre, so that
/// flips and rotations move it).
fn inside(affine: &Affine, (i, j, k): (usize, usize, usize)) -> bool {
    let w = affine * Vector4::new(i as f64, j as f64, k as f64, 1.0);
    let (x, y, z) = ((w[0] - 8.0) / 18.0, (w[1] + 5.0) / 12.0, (w[2] - 3.0) / 9.0);
    x * x + y * y + z * z < 1.0
}

fn volumes() -> (Volume, Volume) {
    let image_shape = [48, 40, 30];
    let image_affine = grid(image_shape, [1.1, 1.3, 1.7], [0.2, -0.15, 0.3]);
    let image =
        Array3::from_shape_fn(image_shape, |v| if inside(&image_affine, v) { 100.0f32 } else { 10.0 });
    let label_shape = [70, 52, 36];
    let label_affine = grid(label_shape, [0.8, 0.9, 1.4], [-0.1, 0.25, -0.2]);
    let label = Array3::from_shape_fn(label_shape, |v| u8::from(inside(&label_affine, v)));
    (Volume::image3(image, image_affine), Volume::label3(label, label_affine))
}

const GRAPH: &str = r#"{"seed": 5, "nodes": [
 {"name": "image", "op": "load"},
 {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
 {"name": "label_on_image", "op": "resample_to", "inputs": {"volume": "label", "like": "image"}},
 {"name": "rotate", "op": "random_rotate", "params": {"degrees": [-25, 25]}},
 {"name": "flip", "op": "random_flip", "params": {"axes": [0, 1, 2], "one_axis": true, "p": 1.0}},
 {"name": "image_r", "op": "apply", "inputs": {"volume": "image", "draw": "rotate"}},
 {"name": "label_r", "op": "apply", "inputs": {"volume": "label_on_image", "draw": "rotate"}},
 {"name": "image_f", "op": "apply", "inputs": {"volume": "image_r", "draw": "flip"}},
 {"name": "label_f", "op": "apply", "inputs": {"volume": "label_r", "draw": "flip"}}
]}"#;

fn run(graph: &Graph, output: u64, nodes: &[&str]) -> Result<BTreeMap<String, Arc<Volume>>, String> {
    let (image, label) = volumes();
    let given = [("image".to_owned(), Arc::new(image)), ("label".to_owned(), Arc::new(label))].into();
    let targets: BTreeSet<usize> = nodes.iter().map(|n| graph.node_index(n).expect("node")).collect();
    let case = Case { id: "case".into(), inputs: BTreeMap::new() };
    let dir = std::path::PathBuf::new();
    let mut runner = CaseRunner::new(graph, &case, graph.file.seed, &dir, Capture::in_memory(targets, given))
        .map_err(|f| f.message)?;
    runner.run_output(output).map(|r| r.volumes).map_err(|f| format!("node {:?}: {}", f.node, f.message))
}

/// Dice of the label map's foreground and the image's bright voxels.
fn overlap(image: &Volume, label: &Volume) -> f64 {
    let image = image.image().expect("image");
    let voxflow_core::LabelArray::U8(label) = label.labels().expect("labels") else { panic!("u8 labels") };
    assert_eq!(image.shape(), label.shape(), "one grid");
    let (mut both, mut a, mut b) = (0usize, 0usize, 0usize);
    ndarray::Zip::from(image).and(label).for_each(|&v, &l| {
        let bright = v > 55.0;
        a += usize::from(bright);
        b += usize::from(l == 1);
        both += usize::from(bright && l == 1);
    });
    2.0 * both as f64 / (a + b) as f64
}

#[test]
fn resample_to_aligns_in_world_space_and_one_draw_moves_both_alike() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_json(GRAPH).expect("graph");
    let before = run(&graph, 0, &["image", "label_on_image"]).expect("run");
    let dice = overlap(&before["image"], &before["label_on_image"]);
    assert!(dice > 0.9, "on one grid, the label covers the bright ellipsoid: Dice {dice}");
    assert_eq!(before["label_on_image"].affine, before["image"].affine);
    for output in 0..4 {
        let after = run(&graph, output, &["image_f", "label_f"]).expect("run");
        let moved = overlap(&after["image_f"], &after["label_f"]);
        assert!(moved > 0.9, "output {output}: after one shared draw they still overlap: Dice {moved}");
        // And the draw did move them (the ellipsoid is off-centre).
        assert!(overlap(&after["image_f"], &before["label_on_image"]) < 0.8, "output {output}");
    }
}

#[test]
fn one_draw_on_two_grids_is_refused_naming_both_nodes() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_json(&GRAPH.replace(r#""volume": "label_on_image""#, r#""volume": "label""#))
        .expect("graph");
    let err = run(&graph, 0, &["image_r", "label_r"]).expect_err("two grids");
    assert!(err.contains("label_r") && err.contains("image_r") && err.contains("another grid"), "{err}");
    assert!(err.contains("resample_to") && err.contains("`rotate`"), "{err}");
}
