//! Snapshots of compact summaries (shape, dtype, affine, statistics, label histogram, a
//! position-weighted checksum) of each grid op on the sample volumes.

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use voxflow_core::{Kind, LabelType, Volume, Voxels, with_labels};
use voxflow_geometry::crop::Crop;
use voxflow_geometry::crop_or_pad::CropOrPad;
use voxflow_geometry::flip::{Axes, Flip};
use voxflow_geometry::foreground_crop::RandomForegroundCrop;
use voxflow_geometry::pad::{Pad, PadMode};
use voxflow_geometry::reorient::Reorient;
use voxflow_geometry::resample_to_spacing::{Oblique, ResampleToSpacing};
use voxflow_geometry::spatial::Resampling;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/");

fn read(name: &str, kind: Kind) -> Volume {
    voxflow_io_nifti::read(format!("{DATA}{name}"), kind).expect("sample file")
}

fn sig(x: f64) -> String {
    format!("{x:.6e}")
}

fn summary(v: &Volume) -> Json {
    let affine: Vec<Vec<f64>> =
        (0..3).map(|r| (0..4).map(|c| (v.affine[(r, c)] * 1e4).round() / 1e4 + 0.0).collect()).collect();
    let mut out = json!({"shape": v.shape4(), "dtype": v.dtype().to_string(), "affine": affine});
    match &v.voxels {
        Voxels::Image(a) => {
            let (sum, min, max) = voxflow_core::volume::stats_f32(a);
            let weighted: f64 = a
                .indexed_iter()
                .map(|((x, y, z, t), &v)| f64::from(v) * (x + 7 * y + 13 * z + 17 * t) as f64)
                .sum();
            out["sum"] = json!(sig(sum));
            out["min"] = json!(sig(min));
            out["max"] = json!(sig(max));
            out["checksum"] = json!(sig(weighted));
        }
        Voxels::Label(l) => {
            let (hist, weighted) = with_labels!(l, |a: T| {
                let mut hist = BTreeMap::<i128, u64>::new();
                let mut weighted = 0u128;
                for ((x, y, z, t), v) in a.indexed_iter() {
                    let v = v.to_i128();
                    *hist.entry(v).or_default() += 1;
                    weighted = weighted.wrapping_add((v as u128) * (x + 7 * y + 13 * z + 17 * t) as u128);
                }
                (hist, weighted)
            });
            out["labels"] =
                json!(hist.into_iter().map(|(k, n)| (k.to_string(), n)).collect::<BTreeMap<_, _>>());
            out["checksum"] = json!(weighted.to_string());
        }
    }
    out
}

fn spacing(s: f64, oblique: Oblique) -> ResampleToSpacing {
    ResampleToSpacing { spacing: [s; 3], oblique, resampling: Resampling::default() }
}

#[test]
fn anatomy_snapshots() {
    let v = read("someones_anatomy.nii.gz", Kind::Image);
    let crop =
        Crop { start: Some([5, 6, 7]), size: [32, 40, 30], pad: false, mode: PadMode::Constant, value: 0.0 };
    let outputs: BTreeMap<&str, Volume> = [
        ("input", v.clone()),
        ("flip_x", Flip { axis: Axes::One(0) }.apply(&v).expect("flip")),
        ("crop_5_6_7_size_32_40_30", crop.apply(&v).expect("crop")),
        ("centre_crop_48", Crop { start: None, size: [48; 3], ..crop.clone() }.apply(&v).expect("crop")),
        (
            "pad_edge_2",
            Pad { before: [2; 3], after: [2; 3], mode: PadMode::Edge, value: 0.0 }.apply(&v).expect("pad"),
        ),
        (
            "crop_or_pad_64",
            CropOrPad { shape: [64; 3], mode: PadMode::Constant, value: 0.0 }.apply(&v).expect("crop_or_pad"),
        ),
        ("reorient", Reorient {}.apply(&v).expect("reorient")),
        ("to_spacing_2", spacing(2.0, Oblique::KeepOrientation).apply(&v).expect("resample")),
    ]
    .into_iter()
    .collect();
    let summaries: BTreeMap<&str, Json> = outputs.iter().map(|(k, v)| (*k, summary(v))).collect();
    insta::assert_json_snapshot!("anatomy", summaries);
}

#[test]
fn epi_snapshots() {
    let v = read("someones_epi.nii.gz", Kind::Image);
    let outputs: BTreeMap<&str, Volume> = [
        ("reorient", Reorient {}.apply(&v).expect("reorient")),
        ("to_spacing_3_keep", spacing(3.0, Oblique::KeepOrientation).apply(&v).expect("resample")),
        ("to_spacing_3_output_space", spacing(3.0, Oblique::ToOutputSpace).apply(&v).expect("resample")),
    ]
    .into_iter()
    .collect();
    let summaries: BTreeMap<&str, Json> = outputs.iter().map(|(k, v)| (*k, summary(v))).collect();
    insta::assert_json_snapshot!("epi", summaries);
}

#[test]
fn tissue_label_snapshots() {
    let l = read("mni152_tissue_labels.nii.gz", Kind::Label);
    let Voxels::Label(labels) = &l.voxels else { panic!("labels") };
    let fg = RandomForegroundCrop {
        size: [64; 3],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: true,
        class_ratios: None,
    };
    let draw = fg
        .sample(
            &mut voxflow_core::seed::rng_for(&voxflow_core::seed::DrawKey {
                graph_seed: 7,
                case_id: "mni152",
                output_index: 0,
                node: "patch",
            }),
            labels,
        )
        .expect("draw");
    let outputs: BTreeMap<&str, Volume> = [
        ("input", l.clone()),
        ("flip_y", Flip { axis: Axes::One(1) }.apply(&l).expect("flip")),
        (
            "crop_or_pad_160_192_160",
            CropOrPad { shape: [160, 192, 160], mode: PadMode::Constant, value: 0.0 }
                .apply(&l)
                .expect("crop_or_pad"),
        ),
        ("reorient", Reorient {}.apply(&l).expect("reorient")),
        ("to_spacing_2_nearest", spacing(2.0, Oblique::KeepOrientation).apply(&l).expect("resample")),
        ("foreground_crop_64", draw.apply(&l).expect("crop")),
    ]
    .into_iter()
    .collect();
    let summaries: BTreeMap<&str, Json> = outputs.iter().map(|(k, v)| (*k, summary(v))).collect();
    insta::assert_json_snapshot!("tissue_labels", summaries);
}

#[test]
fn axis_and_box_op_snapshots() {
    use voxflow_geometry::crop_nonzero::CropNonzero;
    use voxflow_geometry::rot90::Rot90;
    use voxflow_geometry::transpose::Transpose;
    use voxflow_geometry::weighted_crop::RandomWeightedCrop;
    let v = read("someones_anatomy.nii.gz", Kind::Image);
    let l = read("mni152_tissue_labels.nii.gz", Kind::Label);
    let Voxels::Label(labels) = &l.voxels else { panic!("labels") };
    let rng = |node: &str| {
        voxflow_core::seed::rng_for(&voxflow_core::seed::DrawKey {
            graph_seed: 7,
            case_id: "snap",
            output_index: 0,
            node,
        })
    };
    let ratios = RandomForegroundCrop {
        size: [48; 3],
        labels: None,
        p_foreground: 1.0,
        balanced_classes: false,
        class_ratios: Some([(1, 1.0), (3, 4.0)].into_iter().collect()),
    };
    let class_draw = ratios.sample(&mut rng("classes"), labels).expect("draw");
    let weights = v.image().expect("image").index_axis(ndarray::Axis(3), 0);
    let weighted_draw =
        RandomWeightedCrop { size: [32, 40, 30] }.sample(&mut rng("weighted"), weights).expect("draw");
    let margin2 = CropNonzero { margin: [2; 3], ..CropNonzero::default() };
    let outputs: BTreeMap<&str, Volume> = [
        ("anatomy_rot90_k1_xy", Rot90 { k: 1, axes: [0, 1] }.apply(&v).expect("rot90")),
        ("anatomy_rot90_k3_yz", Rot90 { k: 3, axes: [1, 2] }.apply(&v).expect("rot90")),
        ("anatomy_transpose_201", Transpose { axes: [2, 0, 1] }.apply(&v).expect("transpose")),
        ("anatomy_crop_nonzero_margin_2", margin2.apply(&v, None).expect("crop")),
        ("anatomy_weighted_crop", weighted_draw.apply(&v).expect("crop")),
        ("labels_rot90_k2_xz", Rot90 { k: 2, axes: [0, 2] }.apply(&l).expect("rot90")),
        ("labels_crop_nonzero", CropNonzero::default().apply(&l, None).expect("crop")),
        ("labels_class_ratios_crop_48", class_draw.apply(&l).expect("crop")),
    ]
    .into_iter()
    .collect();
    let summaries: BTreeMap<&str, Json> = outputs.iter().map(|(k, v)| (*k, summary(v))).collect();
    insta::assert_json_snapshot!("axis_and_box_ops", summaries);
}
