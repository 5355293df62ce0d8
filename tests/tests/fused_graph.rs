//! `graphs/augment_fused.json`: random rotate → scale → shift → flip → crop of the MNI T1 and
//! its tissue labels resamples each volume once (at `save`), and the label map still lies on the
//! anatomy of the augmented image: the overlap of the labels with a threshold of the image is as
//! good after augmentation as before.

use ndarray::Array4;
use std::collections::BTreeSet;
use std::path::Path;
use voxflow_core::{Kind, LabelType, Volume, Voxels, with_labels};
use voxflow_graph_runner::{Graph, RunOptions, dataset, run};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../");

/// Brain tissue in the MNI T1 (grey and white matter are brighter than CSF and background).
const THRESHOLD: f32 = 60.0;

fn tissue(volume: &Volume) -> Array4<bool> {
    volume.image().expect("an image").mapv(|v| v > THRESHOLD)
}

fn labelled(volume: &Volume) -> (Array4<bool>, BTreeSet<i128>) {
    let Voxels::Label(labels) = &volume.voxels else { panic!("a label map") };
    with_labels!(labels, |a: T| {
        (a.mapv(|v| v.to_i128() != 0), a.iter().map(|v| v.to_i128()).collect::<BTreeSet<_>>())
    })
}

fn dice(a: &Array4<bool>, b: &Array4<bool>) -> f64 {
    let both = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let total = a.iter().filter(|x| **x).count() + b.iter().filter(|x| **x).count();
    2.0 * both as f64 / total as f64
}

#[test]
fn spatial_chain_resamples_once_and_labels_stay_on_the_anatomy() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_path(&Path::new(ROOT).join("graphs/augment_fused.json")).expect("valid graph");
    let spec = graph.file.dataset.as_ref().expect("the graph carries its dataset");
    let cases = dataset::single(spec.case.as_deref(), &spec.inputs, &Path::new(ROOT).join("graphs"))
        .expect("dataset");
    let out = tempfile::tempdir().expect("tempdir");
    let summary = run::run(&graph, &cases, &RunOptions::new(out.path())).expect("run");
    assert!(summary.failures.is_empty(), "{:?}", summary.failures);
    assert_eq!(summary.outputs_written, 2);

    // The only resamples are those of the save nodes: the five spatial ops fused into one per
    // volume.
    let resampled: BTreeSet<&str> =
        summary.timings.keys().filter_map(|k| k.strip_suffix(" (resampling its input)")).collect();
    assert_eq!(resampled, BTreeSet::from(["save_image", "save_label"]));

    let input_image = voxflow_io_nifti::read(Path::new(ROOT).join("data/mni152_t1.nii.gz"), Kind::Image)
        .expect("input image");
    let input_label =
        voxflow_io_nifti::read(Path::new(ROOT).join("data/mni152_tissue_labels.nii.gz"), Kind::Label)
            .expect("input labels");
    let before = dice(&labelled(&input_label).0, &tissue(&input_image));
    assert!(before > 0.8, "the threshold finds the brain tissue: Dice {before}");

    for output in 0..2 {
        let file = |stem: &str| out.path().join(format!("mni152/{stem}_{output}.nii.gz"));
        let image = voxflow_io_nifti::read(file("image"), Kind::Image).expect("image");
        let label = voxflow_io_nifti::read(file("label"), Kind::Label).expect("label");
        assert_eq!(image.shape3(), [160, 192, 160]);
        assert_eq!(label.shape3(), image.shape3());
        assert_eq!(label.affine, image.affine, "image and label share the output grid");
        assert_eq!(label.dtype(), input_label.dtype(), "labels keep their dtype");
        let (mask, values) = labelled(&label);
        assert!(values.is_subset(&BTreeSet::from([0, 1, 2])), "no new label values: {values:?}");
        let after = dice(&mask, &tissue(&image));
        assert!(
            after > before - 0.03,
            "output {output}: labels drifted off the anatomy (Dice {after:.4} after, {before:.4} before)"
        );
    }
}
