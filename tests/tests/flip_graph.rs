//! `graphs/flip.json` end to end: image and label share one random flip, the affine is kept,
//! and the manifest names the axis that was drawn.

use ndarray::{Array4, Axis};
use std::path::Path;
use voxflow_core::{Kind, LabelArray, Volume, Voxels};
use voxflow_graph_runner::{Graph, RunOptions, dataset, manifest, run};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../");

fn flipped<T: Clone>(a: &Array4<T>, axis: usize) -> Array4<T> {
    let mut v = a.view();
    v.invert_axis(Axis(axis));
    v.to_owned()
}

fn read(path: &Path, kind: Kind) -> Volume {
    voxflow_io_nifti::read(path, kind).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn flip_graph_mirrors_image_and_label_along_the_same_drawn_axis() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_path(&Path::new(ROOT).join("graphs/flip.json")).expect("valid graph");
    let spec = graph.file.dataset.as_ref().expect("the graph carries its dataset");
    let base = Path::new(ROOT).join("graphs");
    let cases = dataset::single(spec.case.as_deref(), &spec.inputs, &base).expect("dataset");
    let out = tempfile::tempdir().expect("tempdir");
    let mut opts = RunOptions::new(out.path());
    opts.threads = 2;
    let summary = run::run(&graph, &cases, &opts).expect("run");
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.line(), "1 cases, 2 outputs written, 0 failed");

    let image_in = read(&cases[0].inputs["image"], Kind::Image);
    let label_in = read(&cases[0].inputs["label"], Kind::Label);
    let lines = manifest::read(&manifest::path_in(out.path())).expect("manifest");
    assert_eq!(lines.len(), 2);
    let mut summaries = Vec::new();
    for line in &lines {
        let draw = &line.draws["flip"];
        assert_eq!(draw["op"], "flip", "{draw}");
        let axes: Vec<usize> = serde_json::from_value(draw["params"]["axis"].clone()).expect("axis list");
        assert_eq!(axes.len(), 1, "one_axis draws one axis: {draw}");
        let axis = axes[0];
        let image = read(&out.path().join(format!("mni152/image_{}.nii.gz", line.output)), Kind::Image);
        let label = read(&out.path().join(format!("mni152/label_{}.nii.gz", line.output)), Kind::Label);
        assert_eq!(image.affine, image_in.affine, "the affine is kept");
        assert_eq!(label.affine, label_in.affine, "the affine is kept");
        let (Voxels::Image(a), Voxels::Image(b)) = (&image.voxels, &image_in.voxels) else {
            panic!("images")
        };
        assert!(*a == flipped(b, axis), "image is not the input mirrored along axis {axis}");
        let (Voxels::Label(LabelArray::U8(a)), Voxels::Label(LabelArray::U8(b))) =
            (&label.voxels, &label_in.voxels)
        else {
            panic!("u8 label maps")
        };
        assert!(*a == flipped(b, axis), "label is not the input mirrored along axis {axis}");
        summaries.push(serde_json::json!({
            "output": line.output,
            "draw": draw,
            "files": line.files,
            "image_shape": image.shape4(),
            "label_dtype": label.dtype().to_string(),
        }));
    }
    insta::assert_json_snapshot!(summaries);
}
