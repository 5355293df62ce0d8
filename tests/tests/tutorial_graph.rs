//! `graphs/tutorial.json` (the tutorial's whole chain on image + label) runs end to end: every
//! random node draws, image and label stay on one grid, labels stay labels, and the same run
//! on 1 or 2 threads writes the same bytes.

use std::collections::BTreeSet;
use std::path::Path;
use voxflow_core::{Kind, Voxels, with_labels};
use voxflow_graph_runner::{Graph, RunOptions, dataset, manifest, run};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../");

fn run_tutorial(out: &Path, threads: usize) -> Vec<manifest::ManifestLine> {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_path(&Path::new(ROOT).join("graphs/tutorial.json")).expect("valid graph");
    let spec = graph.file.dataset.as_ref().expect("the graph carries its dataset");
    let cases = dataset::single(spec.case.as_deref(), &spec.inputs, &Path::new(ROOT).join("graphs"))
        .expect("dataset");
    let mut opts = RunOptions::new(out);
    opts.threads = threads;
    opts.outputs = Some(2);
    let summary = run::run(&graph, &cases, &opts).expect("run");
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    manifest::read(&manifest::path_in(out)).expect("manifest")
}

#[test]
fn tutorial_graph_is_short() {
    let text = std::fs::read_to_string(Path::new(ROOT).join("graphs/tutorial.json")).expect("read");
    let file: serde_json::Value = serde_json::from_str(&text).expect("json");
    let nodes = file["nodes"].as_array().expect("nodes").len();
    assert!(nodes <= 14, "the tutorial takes {nodes} nodes");
}

#[test]
fn tutorial_graph_runs_the_whole_chain() {
    let a = tempfile::tempdir().expect("tempdir");
    let lines = run_tutorial(a.path(), 2);
    assert_eq!(lines.len(), 2);
    let mut summaries = Vec::new();
    for line in &lines {
        let file = |stem: &str| a.path().join(format!("mni152/{stem}_{}.nii.gz", line.output));
        let image = voxflow_io_nifti::read(file("image"), Kind::Image).expect("image");
        let label = voxflow_io_nifti::read(file("label"), Kind::Label).expect("label");
        assert_eq!(image.shape4(), [112, 112, 112, 1]);
        assert_eq!(label.shape4(), image.shape4());
        assert_eq!(label.affine, image.affine, "image and label share the grid");
        let Voxels::Label(labels) = &label.voxels else { panic!("a label map") };
        let values: BTreeSet<i128> =
            with_labels!(labels, |arr: T| arr.iter().map(|v| voxflow_core::LabelType::to_i128(*v)).collect());
        assert!(values.is_subset(&BTreeSet::from([0, 1, 2])), "labels stay labels: {values:?}");
        assert!(values.len() > 1, "the crop holds anatomy");
        let data = image.image().expect("image");
        assert!(data.iter().all(|v| v.is_finite()));
        // Spatial ops run before the intensity normalisation and fill with the minimum: no
        // voxel is left below the clipped range or stranded at a fill value of 0 (the old
        // graph had ~31,000 voxels at exactly 0 against a background of -1.76).
        let mask = with_labels!(labels, |arr: T| arr.mapv(|v| voxflow_core::LabelType::to_i128(v) != 0));
        let (mut lo, mut hi, mut mask_lo, mut mask_hi) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        let (mut sum, mut sum2, mut n, mut zeros) = (0f64, 0f64, 0f64, 0usize);
        ndarray::Zip::from(data).and(&mask).for_each(|&v, &m| {
            lo = lo.min(v);
            hi = hi.max(v);
            zeros += usize::from(v == 0.0);
            if m {
                mask_lo = mask_lo.min(v);
                mask_hi = mask_hi.max(v);
                sum += f64::from(v);
                sum2 += f64::from(v) * f64::from(v);
                n += 1.0;
            }
        });
        assert_eq!((lo, hi), (mask_lo, mask_hi), "every voxel lies in the clipped, normalised range");
        assert!(zeros * 1000 < data.len(), "{zeros} voxels stranded at 0");
        let mean = sum / n;
        assert!(
            mean.abs() < 1e-4 && ((sum2 / n - mean * mean).sqrt() - 1.0).abs() < 1e-3,
            "z-scored in the mask"
        );
        let draws: Vec<(String, String)> = line
            .draws
            .iter()
            .map(|(node, op)| (node.clone(), op["op"].as_str().unwrap_or("?").to_owned()))
            .collect();
        summaries.push(serde_json::json!({
            "output": line.output,
            "files": line.files,
            "draws": draws,
            "shape": image.shape4(),
            "label_dtype": label.dtype().to_string(),
        }));
    }
    insta::assert_json_snapshot!(summaries);

    let b = tempfile::tempdir().expect("tempdir");
    run_tutorial(b.path(), 1);
    for f in &lines[1].files {
        let (x, y) =
            (std::fs::read(a.path().join(f)).expect("read"), std::fs::read(b.path().join(f)).expect("read"));
        assert!(x == y, "{f}: 1 and 2 threads differ");
    }
}
