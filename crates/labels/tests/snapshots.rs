//! Summaries (shape, dtype, affine, label histogram or per-frame sums) of every label op on
//! the MNI152 tissue labels (uint8, 0 = background, 1, 2), each run as a graph.

mod common;

use common::{run_graph, sample, summary};
use serde_json::json;
use voxflow_core::Kind;

#[test]
fn label_ops_on_the_mni_tissue_labels() {
    let input = sample("mni152_tissue_labels.nii.gz");
    let cases = [
        ("input", "remap_labels", json!({"mapping": {}}), Kind::Label),
        ("remap_swap", "remap_labels", json!({"mapping": {"1": 2, "2": 1}}), Kind::Label),
        (
            "remap_merge_int16",
            "remap_labels",
            json!({"mapping": {"1": 7, "2": 7}, "default": -1, "dtype": "int16"}),
            Kind::Label,
        ),
        ("remove_2", "remove_labels", json!({"labels": [2]}), Kind::Label),
        (
            "merge_map",
            "merge_labels",
            json!({"regions": [{"name": "brain", "labels": [1, 2]}, {"name": "two", "labels": [2]}], "output": "map"}),
            Kind::Label,
        ),
        (
            "merge_channels",
            "merge_labels",
            json!({"regions": [{"name": "brain", "labels": [1, 2]}, {"name": "two", "labels": [2]}]}),
            Kind::Image,
        ),
        ("one_hot", "one_hot", json!({"classes": [0, 1, 2]}), Kind::Image),
        ("keep_largest_c6", "keep_largest_component", json!({"connectivity": 6}), Kind::Label),
        ("keep_largest_c26", "keep_largest_component", json!({}), Kind::Label),
        (
            "remove_small100_c18",
            "remove_small_components",
            json!({"min_voxels": 100, "connectivity": 18}),
            Kind::Label,
        ),
    ];
    let mut all = serde_json::Map::new();
    for (name, op, params, out_kind) in cases {
        let out =
            run_graph(&input, Kind::Label, op, &params, out_kind).unwrap_or_else(|e| panic!("{name}: {e}"));
        all.insert(name.to_owned(), summary(&out));
    }
    insta::assert_json_snapshot!(all);
}
