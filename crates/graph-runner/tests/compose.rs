//! Composition (`one_of`, `some_of`, `random_order`): every choice is reachable, what was drawn
//! is recorded in the manifest, and replaying a line gives the same bytes.

use ndarray::Array3;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use voxflow_core::{Affine, Volume};
use voxflow_graph_runner::manifest::{self, ManifestLine};
use voxflow_graph_runner::{Case, Graph, RunOptions, run};

const GRAPH: &str = r#"{"seed": 3, "outputs": 12, "nodes": [
 {"name": "image", "op": "load"},
 {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
 {"name": "spatial", "op": "one_of", "params": {"choices": [
   {"weight": 0.7, "draw": {"op": "random_rotate", "params": {"degrees": [-20, 20]}}},
   {"weight": 0.3, "draw": {"op": "random_elastic", "params": {"model": {"type": "control_grid"}}}}]}},
 {"name": "more", "op": "some_of", "params": {"k": [1, 2], "order": "random", "choices": [
   {"draw": {"op": "random_flip", "params": {"p": 1.0}}},
   {"draw": {"op": "random_scale"}},
   {"draw": {"op": "random_shift", "params": {"max": [3, 3, 3]}}}]}},
 {"name": "intensity", "op": "random_order", "params": {"choices": [
   {"draw": {"op": "random_gamma", "params": {"p": 1.0}}},
   {"draw": {"op": "random_noise", "params": {"p": 1.0}}}]}},
 {"name": "moved", "op": "apply", "inputs": {"volume": ["image", "label"], "draw": ["spatial", "more"]}},
 {"name": "image_i", "op": "apply", "inputs": {"volume": "moved.image", "draw": "intensity"}},
 {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii"}, "inputs": {"volume": "image_i"}},
 {"name": "save_label", "op": "save", "params": {"path": "{case}/label_{output}.nii"}, "inputs": {"volume": "moved.label"}}
]}"#;

fn case(dir: &Path) -> Case {
    let affine = Affine::from_diagonal(&nalgebra::Vector4::new(1.2, 1.0, 1.5, 1.0));
    let image = Array3::from_shape_fn((24, 20, 16), |(i, j, k)| (i * 3 + j * 2 + k) as f32 + 10.0);
    let label = Array3::from_shape_fn((24, 20, 16), |(i, j, _)| u8::from(i > 8 && j > 6) + u8::from(i > 16));
    let options = voxflow_io_nifti::WriteOptions::default();
    voxflow_io_nifti::write(dir.join("image.nii"), &Volume::image3(image, affine), &options).expect("write");
    voxflow_io_nifti::write(dir.join("label.nii"), &Volume::label3(label, affine), &options).expect("write");
    Case {
        id: "c".into(),
        inputs: BTreeMap::from([
            ("image".into(), dir.join("image.nii")),
            ("label".into(), dir.join("label.nii")),
        ]),
    }
}

fn run_graph(graph_path: &Path, case: &Case, out: &Path) -> Vec<ManifestLine> {
    let graph = Graph::from_path(graph_path).expect("valid graph");
    let summary = run::run(&graph, std::slice::from_ref(case), &RunOptions::new(out)).expect("run");
    assert!(summary.complete(), "{:?}", summary.failures);
    manifest::read(&manifest::path_in(out)).expect("manifest")
}

#[test]
fn compositions_draw_every_choice_record_it_and_replay_byte_for_byte() {
    voxflow_graph_runner::register_all();
    let tmp = tempfile::tempdir().expect("tempdir");
    let graph_path = tmp.path().join("graph.json");
    std::fs::write(&graph_path, GRAPH).expect("write");
    let case = case(tmp.path());
    let out = tmp.path().join("out");
    let lines = run_graph(&graph_path, &case, &out);
    assert_eq!(lines.len(), 12);

    let mut spatial = BTreeSet::new();
    let mut more_lengths = BTreeSet::new();
    let mut intensity_orders = BTreeSet::new();
    for line in &lines {
        spatial.insert(line.draws["spatial"]["op"].as_str().expect("op").to_owned());
        let more = &line.draws["more"];
        more_lengths.insert(if more["op"] == "chain" {
            more["params"]["ops"].as_array().map_or(0, Vec::len)
        } else {
            1
        });
        let ops = line.draws["intensity"]["params"]["ops"].as_array().expect("a chain of both");
        let order: Vec<String> = ops.iter().map(|o| o["op"].as_str().unwrap_or("?").to_owned()).collect();
        assert_eq!(order.len(), 2);
        intensity_orders.insert(order);
    }
    // rotate draws `rotate`; the elastic choice draws `elastic`.
    assert_eq!(spatial, BTreeSet::from(["elastic".to_owned(), "rotate".to_owned()]), "both choices drawn");
    assert_eq!(more_lengths, BTreeSet::from([1, 2]), "k in [1, 2]");
    assert_eq!(intensity_orders.len(), 2, "both orders drawn: {intensity_orders:?}");

    // The labels stay labels, and replay gives the same bytes for every line.
    for line in &lines {
        let replayed = tmp.path().join(format!("replay{}", line.output));
        let record = run::replay(line, &replayed).expect("replay");
        for file in &record.files {
            let (a, b) = (
                std::fs::read(out.join(file)).expect("read"),
                std::fs::read(replayed.join(file)).expect("read"),
            );
            assert!(a == b, "output {}: {file} differs after replay", line.output);
        }
    }
    // Same seed, same draws: a second run equals the first.
    let again = run_graph(&graph_path, &case, &tmp.path().join("again"));
    assert!(lines.iter().zip(&again).all(|(a, b)| a.draws == b.draws));
}

#[test]
fn bad_compositions_are_refused_at_validation() {
    voxflow_graph_runner::register_all();
    let not_random = r#"{"nodes": [{"name": "c", "op": "one_of", "params": {"choices": [{"draw": {"op": "flip", "params": {"axis": [0]}}}]}}]}"#;
    let err = Graph::from_json(not_random).expect_err("flip is not random");
    let text = voxflow_graph_runner::error_render::error_chain(&err);
    assert!(
        text.contains("node `c`") && text.contains("choice 0") && text.contains("not a random op"),
        "{text}"
    );

    let bad_k = r#"{"nodes": [{"name": "c", "op": "some_of", "params": {"k": [2, 3], "choices": [{"draw": {"op": "random_flip"}}]}}]}"#;
    let text = voxflow_graph_runner::error_render::error_chain(&Graph::from_json(bad_k).expect_err("k"));
    assert!(text.contains("parameter `k`"), "{text}");

    // An intensity choice makes the composition apply to images only.
    let on_label = r#"{"nodes": [
      {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
      {"name": "c", "op": "one_of", "params": {"choices": [{"draw": {"op": "random_flip"}}, {"draw": {"op": "random_gamma"}}]}},
      {"name": "x", "op": "apply", "inputs": {"volume": "label", "draw": "c"}}]}"#;
    let text =
        voxflow_graph_runner::error_render::error_chain(&Graph::from_json(on_label).expect_err("label"));
    assert!(text.contains("node `x`") && text.contains("label"), "{text}");
}
