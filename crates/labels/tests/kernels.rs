//! The plain kernels and the ops' parameter checks, on small arrays built in code.

mod common;

use common::run_graph;
use ndarray::{Array3, Array4, Axis, ShapeBuilder, array};
use serde_json::json;
use std::collections::BTreeMap;
use voxflow_core::volume::IntoLabelArray;
use voxflow_core::{Affine, Kind, Volume, Voxels};
use voxflow_labels::argmax::argmax;
use voxflow_labels::one_hot::{Unknown, one_hot};
use voxflow_labels::remap_labels::remap_labels;
use voxflow_labels::{Connectivity, Keep, LabelsError, filter_components};

fn fortran3(data: &[u8], shape: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_vec((shape[0], shape[1], shape[2]).f(), data.to_vec()).expect("shape")
}

#[test]
fn connectivity_tells_faces_edges_and_corners_apart() {
    // Label 1 at (0,0,0) and (1,1,0): an edge; label 1 at (2,2,1): a corner of (1,1,0).
    let mut a = Array3::<u8>::zeros((3, 3, 2).f());
    a[[0, 0, 0]] = 1;
    a[[1, 1, 0]] = 1;
    a[[2, 2, 1]] = 1;
    let kept = |c| {
        filter_components(a.view(), c, None, Keep::AtLeast(2), 0u8)
            .expect("components")
            .iter()
            .filter(|&&v| v == 1)
            .count()
    };
    assert_eq!(kept(Connectivity::Faces), 0, "no two voxels share a face");
    assert_eq!(kept(Connectivity::Edges), 2, "(0,0,0)-(1,1,0) share an edge");
    assert_eq!(kept(Connectivity::Corners), 3, "(1,1,0)-(2,2,1) share a corner");
}

#[test]
fn components_are_per_label_and_ties_go_to_the_first_in_c_order() {
    // Labels 1 and 2 touch; each is one component of its own. Two equal components of label 3:
    // one at x = 0, z = 1 (first in C order), one at x = 2, z = 0 (first in Fortran order).
    let mut a = Array3::<u8>::zeros((3, 3, 2).f());
    a[[0, 0, 0]] = 1;
    a[[0, 1, 0]] = 2;
    a[[0, 2, 1]] = 3;
    a[[2, 2, 0]] = 3;
    let out = filter_components(a.view(), Connectivity::Faces, None, Keep::Largest, 0u8).expect("components");
    assert_eq!(out[[0, 0, 0]], 1);
    assert_eq!(out[[0, 1, 0]], 2);
    assert_eq!(out[[0, 2, 1]], 3, "scipy numbers components in C order: this one is first");
    assert_eq!(out[[2, 2, 0]], 0);
    // Only the listed labels are touched, and `fill` is what removed voxels get.
    let out = filter_components(a.view(), Connectivity::Faces, Some(&[3]), Keep::AtLeast(2), 9u8)
        .expect("components");
    assert_eq!(out[[0, 2, 1]], 9);
    assert_eq!(out[[0, 0, 0]], 1, "label 1 is not listed: kept although it is small");
}

#[test]
fn components_work_on_non_fortran_views() {
    let a = fortran3(&[1, 0, 1, 1, 0, 0, 1, 1], [2, 2, 2]);
    let c = a.as_standard_layout().to_owned();
    let f = filter_components(a.view(), Connectivity::Faces, None, Keep::Largest, 0u8).expect("components");
    let g = filter_components(c.view(), Connectivity::Faces, None, Keep::Largest, 0u8).expect("components");
    assert_eq!(f, g);
}

#[test]
fn remap_never_invents_values_and_names_what_does_not_fit() {
    let a: Array4<u8> = array![[[[0u8], [1]], [[4], [7]]]];
    let mapping: BTreeMap<i64, i64> = [(1, 2), (4, 3)].into();
    let out: Array4<u8> = remap_labels(a.view(), &mapping, None).expect("remap");
    assert_eq!(
        out.iter().copied().collect::<Vec<_>>(),
        a.map(|&v| match v {
            1 => 2,
            4 => 3,
            v => v,
        })
        .iter()
        .copied()
        .collect::<Vec<_>>()
    );
    let out: Array4<i16> = remap_labels(a.view(), &mapping, Some(-1)).expect("remap");
    assert!(out.iter().all(|v| [-1, 2, 3].contains(v)));
    let big: BTreeMap<i64, i64> = [(1, 300)].into();
    let err = remap_labels::<u8, u8>(a.view(), &big, None).expect_err("300 does not fit uint8");
    assert!(matches!(err, LabelsError::DoesNotFit { param: "mapping", value: 300, .. }), "{err}");
    // A kept label that does not fit the requested dtype names `dtype`.
    let wide: Array4<i16> = array![[[[1000i16]]]];
    let err = remap_labels::<i16, u8>(wide.view(), &mapping, None).expect_err("1000 does not fit uint8");
    assert!(matches!(err, LabelsError::DoesNotFit { param: "dtype", value: 1000, .. }), "{err}");
}

#[test]
fn one_hot_names_an_unlisted_label_or_zeroes_it() {
    let a = fortran3(&[0, 1, 2, 5], [2, 2, 1]);
    let err = one_hot(a.view(), &[0, 1, 2], Unknown::Error).expect_err("5 is not a class");
    assert!(matches!(err, LabelsError::UnlistedLabel { param: "classes", value: 5 }), "{err}");
    let out = one_hot(a.view(), &[0, 1, 2], Unknown::Zero).expect("zero");
    assert_eq!(out.shape(), &[2, 2, 1, 3]);
    assert_eq!(
        out.index_axis(Axis(3), 0).sum()
            + out.index_axis(Axis(3), 1).sum()
            + out.index_axis(Axis(3), 2).sum(),
        3.0
    );
    assert_eq!(out.sum_axis(Axis(3))[[1, 1, 0]], 0.0, "the unlisted voxel is 0 in every frame");
}

#[test]
fn argmax_follows_numpy_on_ties_and_nan() {
    // Frames per voxel: a tie (first wins), a NaN (first NaN wins), plain.
    let mut x = Array4::<f32>::zeros((3, 1, 1, 3).f());
    for (v, frames) in [[0.5, 0.5, 0.1], [0.1, f32::NAN, f32::NAN], [0.1, 0.2, 0.9]].iter().enumerate() {
        for (k, &f) in frames.iter().enumerate() {
            x[[v, 0, 0, k]] = f;
        }
    }
    let out = argmax::<u8>(x.view(), &[10, 20, 30]).expect("argmax");
    assert_eq!(out.iter().copied().collect::<Vec<_>>(), vec![10, 20, 30]);
    let err = argmax::<u8>(x.view(), &[10, 20]).expect_err("three frames, two classes");
    assert!(matches!(err, LabelsError::Param { param: "classes", .. }), "{err}");
}

fn graph_error(op: &str, params: serde_json::Value) -> String {
    let input = common::data("inputs/synthetic.nii.gz");
    run_graph(&input, Kind::Label, op, &params, Kind::Label).expect_err("the graph is refused")
}

#[test]
fn bad_parameters_are_refused_naming_the_parameter() {
    for (op, params, needle) in [
        ("keep_largest_component", json!({"connectivity": 8}), "connectivity must be 6, 18 or 26"),
        ("remap_labels", json!({"mapping": {"1": 2}, "dtype": "float32"}), "integer dtype"),
        ("remap_labels", json!({"mapping": {"1": 300}, "dtype": "uint8"}), "`mapping`"),
        ("remap_labels", json!({"mapping": {"1": 2}, "default": -1, "dtype": "uint8"}), "`default`"),
        ("remap_labels", json!({"mapping": {"1": 300}}), "`mapping`"),
        ("one_hot", json!({"classes": []}), "`classes`"),
        ("one_hot", json!({"classes": [0, 1, 1]}), "listed twice"),
        ("one_hot", json!({"classes": [0, 1, 2]}), "holds 3, which is not listed"),
        ("argmax", json!({"classes": [0, 300]}), "`dtype`"),
        ("remove_small_components", json!({"min_voxels": 0}), "`min_voxels`"),
        ("remove_labels", json!({"labels": [1], "fill": 256}), "`fill`"),
        ("keep_largest_component", json!({"fill": -1}), "`fill`"),
        ("merge_labels", json!({"regions": []}), "`regions`"),
        (
            "merge_labels",
            json!({"regions": [{"name": "a", "labels": [1]}, {"name": "a", "labels": [2]}]}),
            "named twice",
        ),
        ("merge_labels", json!({"regions": {"a": [1]}}), "regions"),
        ("remove_labels", json!({"labels": [1], "typo": 0}), "typo"),
    ] {
        let err = graph_error(op, params.clone());
        assert!(err.contains(needle), "{op} {params}: `{err}` does not mention `{needle}`");
    }
}

#[test]
fn output_kinds_are_known_before_data_is_read() {
    voxflow_graph_runner::register_all();
    // one_hot gives an image: a label-only op after it is a graph error.
    let graph = json!({"nodes": [
        {"name": "label", "op": "load", "params": {"kind": "label"}},
        {"name": "onehot", "op": "one_hot", "params": {"classes": [0, 1]}, "inputs": {"volume": "label"}},
        {"name": "again", "op": "remove_labels", "params": {"labels": [1]}, "inputs": {"volume": "onehot"}},
        {"name": "save", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "again"}},
    ]});
    let err =
        voxflow_graph_runner::Graph::from_json(&graph.to_string()).expect_err("kind mismatch").to_string();
    assert!(err.contains("again") && err.contains("image"), "{err}");
    // argmax gives a label map; an intensity op after it is a graph error.
    let graph = json!({"nodes": [
        {"name": "image", "op": "load"},
        {"name": "label", "op": "argmax", "params": {"classes": [0]}, "inputs": {"volume": "image"}},
        {"name": "clip", "op": "clip", "params": {"min": 0, "max": 1}, "inputs": {"volume": "label"}},
        {"name": "save", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "clip"}},
    ]});
    let err =
        voxflow_graph_runner::Graph::from_json(&graph.to_string()).expect_err("kind mismatch").to_string();
    assert!(err.contains("clip") && err.contains("label"), "{err}");
}

#[test]
fn four_d_label_maps_are_processed_frame_by_frame() {
    // Two frames: the second is the first with label 1 shifted; remap and components per frame.
    let mut a = Array4::<u8>::zeros((4, 1, 1, 2).f());
    for (x, v) in [1u8, 0, 1, 1].iter().enumerate() {
        a[[x, 0, 0, 0]] = *v;
        a[[3 - x, 0, 0, 1]] = *v;
    }
    let volume = Volume {
        voxels: Voxels::Label(a.into_label_array()),
        affine: Affine::identity(),
        stored_dtype: voxflow_core::DType::U8,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("four_d.nii.gz");
    voxflow_io_nifti::write(&path, &volume, &voxflow_io_nifti::WriteOptions::default()).expect("write");
    let out = run_graph(&path, Kind::Label, "keep_largest_component", &json!({}), Kind::Label).expect("runs");
    let Voxels::Label(voxflow_core::LabelArray::U8(o)) = out.voxels else { panic!("uint8 labels") };
    let frame = |t: usize| o.index_axis(Axis(3), t).iter().copied().collect::<Vec<_>>();
    assert_eq!(frame(0), vec![0, 0, 1, 1]);
    assert_eq!(frame(1), vec![1, 1, 0, 0]);
}
