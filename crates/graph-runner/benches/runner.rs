//! Runner overhead: building (parsing + validating) the tutorial graph, and running a small
//! flip + shift + noise graph on a 64^3 image + label case (2 outputs, written to a temp dir).
//! The full tutorial over MNI-sized cases is in `cargo xtask bench --only runner`.

use ndarray::Array3;
use std::collections::BTreeMap;
use voxflow_core::{Affine, Volume};
use voxflow_graph_runner::{Case, Graph, RunOptions, run};

fn main() {
    voxflow_graph_runner::register_all();
    divan::main();
}

const SMALL: &str = r#"{"seed": 1, "outputs": 2, "nodes": [
 {"name": "image", "op": "load"},
 {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
 {"name": "flip", "op": "random_flip"},
 {"name": "shift", "op": "random_shift"},
 {"name": "noise", "op": "random_noise"},
 {"name": "image_f", "op": "apply", "inputs": {"volume": "image", "draw": "flip"}},
 {"name": "label_f", "op": "apply", "inputs": {"volume": "label", "draw": "flip"}},
 {"name": "image_s", "op": "apply", "inputs": {"volume": "image_f", "draw": "shift"}},
 {"name": "label_s", "op": "apply", "inputs": {"volume": "label_f", "draw": "shift"}},
 {"name": "image_n", "op": "apply", "inputs": {"volume": "image_s", "draw": "noise"}},
 {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii.gz"}, "inputs": {"volume": "image_n"}},
 {"name": "save_label", "op": "save", "params": {"path": "{case}/label_{output}.nii.gz"}, "inputs": {"volume": "label_s"}}
]}"#;

#[divan::bench]
fn build_tutorial_graph(bencher: divan::Bencher) {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs/tutorial.json"))
        .expect("graphs/tutorial.json");
    bencher.bench(|| Graph::from_json(divan::black_box(&text)).expect("valid"));
}

#[divan::bench(sample_count = 10)]
fn run_small_case(bencher: divan::Bencher) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let image = Array3::from_shape_fn((64, 64, 64), |(x, y, z)| (x * y + z) as f32);
    let label = image.mapv(|v| u8::from(v > 1000.0));
    let affine = Affine::identity();
    let options = voxflow_io_nifti::WriteOptions::default();
    let image_path = tmp.path().join("c_0000.nii.gz");
    let label_path = tmp.path().join("c.nii.gz");
    voxflow_io_nifti::write(&image_path, &Volume::image3(image, affine), &options).expect("write");
    voxflow_io_nifti::write(&label_path, &Volume::label3(label, affine), &options).expect("write");
    let cases = vec![Case {
        id: "c".to_owned(),
        inputs: BTreeMap::from([("image".to_owned(), image_path), ("label".to_owned(), label_path)]),
    }];
    let graph = Graph::from_json(SMALL).expect("valid");
    let mut opts = RunOptions::new(tmp.path().join("out"));
    opts.overwrite = true;
    opts.threads = rayon::current_num_threads();
    bencher.bench(|| run::run(&graph, &cases, &opts).expect("run"));
}
