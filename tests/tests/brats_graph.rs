//! `graphs/brats.json` on the synthetic multi-modal dataset (four modalities and a
//! segmentation, each on its own oblique grid): after `resample_to` and shared draws, every
//! modality and the segmentation stay aligned in world space (landmark and overlap checks).

use ndarray::{Array4, Axis, Zip};
use std::path::Path;
use voxflow_core::{Kind, LabelArray, Voxels};
use voxflow_graph_runner::{Graph, RunOptions, dataset, run};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../");

fn read(dir: &Path, name: &str, kind: Kind) -> voxflow_core::Volume {
    voxflow_io_nifti::read(dir.join(name), kind).expect("read output")
}

/// Voxels above the midpoint of the maximum and the median of the non-zero voxels (the
/// modality's brightest tissue).
fn bright(image: &Array4<f32>) -> Array4<bool> {
    let mut nonzero: Vec<f32> = image.iter().copied().filter(|&v| v != 0.0).collect();
    nonzero.sort_by(f32::total_cmp);
    let median = nonzero[nonzero.len() / 2];
    let max = nonzero[nonzero.len() - 1];
    image.mapv(|v| v > 0.5 * (max + median))
}

fn centroid(mask: &Array4<bool>) -> [f64; 3] {
    let (mut sum, mut n) = ([0.0; 3], 0.0);
    for ((i, j, k, _), &m) in mask.indexed_iter() {
        if m {
            sum[0] += i as f64;
            sum[1] += j as f64;
            sum[2] += k as f64;
            n += 1.0;
        }
    }
    sum.map(|s| s / n)
}

fn dice(a: &Array4<bool>, b: &Array4<bool>) -> f64 {
    let (mut both, mut total) = (0usize, 0usize);
    Zip::from(a).and(b).for_each(|&x, &y| {
        both += usize::from(x && y);
        total += usize::from(x) + usize::from(y);
    });
    2.0 * both as f64 / total as f64
}

fn mean_where(image: &Array4<f32>, mask: &Array4<bool>) -> f64 {
    let (mut s, mut n) = (0.0, 0.0);
    Zip::from(image).and(mask).for_each(|&v, &m| {
        if m {
            s += f64::from(v);
            n += 1.0;
        }
    });
    s / n
}

#[test]
fn brats_graph_keeps_every_modality_aligned_with_the_segmentation() {
    voxflow_graph_runner::register_all();
    let graph_path = Path::new(ROOT).join("graphs/brats.json");
    let text = std::fs::read_to_string(&graph_path).expect("read");
    let nodes = serde_json::from_str::<serde_json::Value>(&text).expect("json")["nodes"]
        .as_array()
        .map_or(0, Vec::len);
    assert!(nodes <= 24, "brats.json takes {nodes} nodes");

    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    voxflow_tests::multimodal::write_dataset(&data, 2).expect("dataset");
    let graph = Graph::from_path(&graph_path).expect("valid graph");
    let cases = dataset::nnunet(&data).expect("cases");
    let out = tmp.path().join("out");
    let mut opts = RunOptions::new(&out);
    opts.outputs = Some(3);
    let summary = run::run(&graph, &cases, &opts).expect("run");
    assert!(summary.complete(), "{:?}", summary.failures);

    for case in &cases {
        for output in 0..3 {
            let dir = out.join(&case.id);
            let name = |m: &str| format!("{m}_{output}.nii.gz");
            let seg = read(&dir, &name("seg"), Kind::Label);
            let Voxels::Label(LabelArray::U8(seg_data)) = &seg.voxels else { panic!("uint8 segmentation") };
            let images: Vec<_> =
                ["t1", "t1c", "t2", "flair"].iter().map(|m| read(&dir, &name(m), Kind::Image)).collect();
            for image in &images {
                assert_eq!(image.shape4(), seg.shape4(), "one grid");
                assert!((image.affine - seg.affine).abs().max() < 1e-4, "one grid");
            }
            let label = |l: u8| seg_data.mapv(|v| v == l);
            let whole = seg_data.mapv(|v| v > 0);
            let tumour_voxels = whole.iter().filter(|&&v| v).count();
            assert!(tumour_voxels > 500, "{} output {output}: the crop holds the tumour", case.id);

            // Overlap: FLAIR's brightest tissue is the oedema.
            let flair = images[3].image().expect("image");
            let flair_bright = bright(flair);
            let overlap = dice(&flair_bright, &label(2));
            assert!(overlap > 0.8, "{} output {output}: FLAIR vs oedema Dice {overlap}", case.id);
            // Landmark: the tumour's centre, from the segmentation and from FLAIR.
            let (a, b) = (centroid(&whole), centroid(&flair_bright));
            let distance = (0..3).map(|i| (a[i] - b[i]).powi(2)).sum::<f64>().sqrt();
            assert!(distance < 1.0, "{} output {output}: tumour centres {distance} voxels apart", case.id);
            // T1c: the enhancing rim is its brightest tumour part.
            let t1c = images[1].image().expect("image");
            let (enhancing, oedema) = (mean_where(t1c, &label(3)), mean_where(t1c, &label(2)));
            assert!(enhancing > oedema + 0.5, "{} output {output}: T1c {enhancing} vs {oedema}", case.id);

            // Regions as channels: whole tumour, tumour core, enhancing.
            let regions = read(&dir, &name("regions"), Kind::Image);
            let regions = regions.image().expect("image");
            assert_eq!(regions.shape()[3], 3);
            let channel = |c: usize| regions.index_axis(Axis(3), c).mapv(|v| v == 1.0);
            let first = |m: &Array4<bool>| m.index_axis(Axis(3), 0).to_owned();
            assert_eq!(channel(0), first(&whole));
            assert_eq!(channel(2), first(&label(3)));
        }
    }
}
