//! Every way a graph can be wrong is caught before any data is read, and the error names the
//! node (and the parameter or port) it is about.

use voxflow_core::{DType, Facts, Kind};
use voxflow_graph_runner::Graph;

const LOAD: &str = r#"{"name": "image", "op": "load"}"#;
const LABEL: &str = r#"{"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}}"#;

fn error_of(nodes: &[&str]) -> String {
    voxflow_graph_runner::register_all();
    let text = format!(r#"{{"seed": 1, "nodes": [{}]}}"#, nodes.join(", "));
    let e = Graph::from_json(&text).map(|_| ()).expect_err("the graph should be rejected");
    voxflow_graph_runner::error_render::error_chain(&e)
}

/// (what, nodes, substrings the message must contain)
const CASES: &[(&str, &[&str], &[&str])] = &[
    (
        "unknown op, with the known ones listed",
        &[LOAD, r#"{"name": "spin", "op": "spinn", "inputs": {"volume": "image"}}"#],
        &["node `spin`", "unknown op `spinn`", "random_flip", "load", "save"],
    ),
    (
        "unknown parameter",
        &[LOAD, r#"{"name": "f", "op": "random_flip", "params": {"axis_list": [0]}}"#],
        &["node `f`", "random_flip", "unknown parameter `axis_list`", "axes"],
    ),
    (
        "parameter of the wrong type",
        &[LOAD, r#"{"name": "f", "op": "random_flip", "params": {"p": "often"}}"#],
        &["node `f`", "parameter `p`", "invalid type: string \"often\""],
    ),
    (
        "validate() failure names the parameter",
        &[
            LOAD,
            r#"{"name": "out", "op": "save", "params": {"path": "x.nii.gz", "gzip_level": 12}, "inputs": {"volume": "image"}}"#,
        ],
        &["node `out`", "gzip_level"],
    ),
    (
        "bad save template",
        &[
            LOAD,
            r#"{"name": "out", "op": "save", "params": {"path": "{subject}.nii.gz"}, "inputs": {"volume": "image"}}"#,
        ],
        &["node `out`", "path", "{subject}"],
    ),
    (
        "missing required input",
        &[LOAD, r#"{"name": "out", "op": "save", "params": {"path": "x.nii.gz"}}"#],
        &["node `out`", "input `volume`", "not connected"],
    ),
    (
        "dangling input",
        &[
            LOAD,
            r#"{"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "imag"}}"#,
        ],
        &["node `out`", "`imag`", "not a node"],
    ),
    (
        "unknown port",
        &[
            LOAD,
            r#"{"name": "out", "op": "save", "params": {"path": "x.nii.gz"}, "inputs": {"volume": "image", "mask": "image"}}"#,
        ],
        &["node `out`", "no input port `mask`", "volume"],
    ),
    (
        "duplicate names",
        &[LOAD, r#"{"name": "image", "op": "load", "params": {"input": "t2"}}"#],
        &["`image`", "more than once"],
    ),
    (
        "cycle, reported whole",
        &[
            r#"{"name": "a", "op": "flip", "params": {"axis": 0}, "inputs": {"volume": "c"}}"#,
            r#"{"name": "b", "op": "flip", "params": {"axis": 1}, "inputs": {"volume": "a"}}"#,
            r#"{"name": "c", "op": "flip", "params": {"axis": 2}, "inputs": {"volume": "b"}}"#,
        ],
        &["cycle", "a -> b -> c -> a"],
    ),
    (
        "label map wired to an intensity op",
        &[LABEL, r#"{"name": "norm", "op": "normalize", "inputs": {"volume": "label"}}"#],
        &["node `norm`", "input `volume`", "label map", "from `label`", "accepts only image"],
    ),
    (
        "intensity draw applied to a label map",
        &[
            LABEL,
            r#"{"name": "gamma", "op": "random_gamma"}"#,
            r#"{"name": "bad", "op": "apply", "inputs": {"volume": "label", "draw": "gamma"}}"#,
        ],
        &["node `bad`", "draw of `gamma`", "applies only to image", "label map"],
    ),
    (
        "label map wired to low_resolution (resamples, but intensity only)",
        &[
            LABEL,
            r#"{"name": "lr", "op": "low_resolution", "params": {"zoom": 0.5}, "inputs": {"volume": "label"}}"#,
        ],
        &["node `lr`", "input `volume`", "label map", "from `label`", "accepts only image"],
    ),
    (
        "low-resolution draw applied to a label map",
        &[
            LABEL,
            r#"{"name": "lr", "op": "random_low_resolution"}"#,
            r#"{"name": "bad", "op": "apply", "inputs": {"volume": "label", "draw": "lr"}}"#,
        ],
        &["node `bad`", "draw of `lr`", "applies only to image", "label map"],
    ),
    (
        "low_resolution zoom above 1",
        &[
            LOAD,
            r#"{"name": "lr", "op": "low_resolution", "params": {"zoom": 1.5}, "inputs": {"volume": "image"}}"#,
        ],
        &["node `lr`", "zoom", "(0, 1]"],
    ),
    (
        "a mask on another known grid than the image",
        &[
            LOAD,
            LABEL,
            r#"{"name": "small", "op": "resize", "params": {"shape": [64, 64, 64]}, "inputs": {"volume": "image"}}"#,
            r#"{"name": "mask", "op": "crop_or_pad", "params": {"shape": [64, 64, 60]}, "inputs": {"volume": "label"}}"#,
            r#"{"name": "norm", "op": "normalize", "params": {"over": "mask"}, "inputs": {"volume": "small", "mask": "mask"}}"#,
        ],
        &[
            "node `norm`",
            "input `mask`",
            "64x64x60 from `mask`",
            "input `volume`",
            "64x64x64 from `small`",
            "one grid",
        ],
    ),
    (
        "a mask on another grid after a crop draw",
        &[
            LOAD,
            LABEL,
            r#"{"name": "small", "op": "resize", "params": {"shape": [64, 64, 64]}, "inputs": {"volume": "image"}}"#,
            r#"{"name": "seg", "op": "resize", "params": {"shape": [64, 64, 64]}, "inputs": {"volume": "label"}}"#,
            r#"{"name": "crop", "op": "random_crop", "params": {"size": [32, 32, 32]}, "inputs": {"like": "small"}}"#,
            r#"{"name": "cropped", "op": "apply", "inputs": {"volume": "small", "draw": "crop"}}"#,
            r#"{"name": "clip", "op": "percentile_clip", "params": {"over": "mask"}, "inputs": {"volume": "cropped", "mask": "seg"}}"#,
        ],
        &["node `clip`", "32x32x32 from `cropped`", "64x64x64 from `seg`"],
    ),
    (
        "a volume wired to a draw port",
        &[LOAD, r#"{"name": "bad", "op": "apply", "inputs": {"volume": "image", "draw": "image"}}"#],
        &["node `bad`", "input `draw`", "accepts only draw"],
    ),
    (
        "node with an unknown key",
        &[LOAD, r#"{"name": "f", "op": "random_flip", "input": {"volume": "image"}}"#],
        &["node `f`", "unknown field `input`", "did you mean `inputs`?"],
    ),
    (
        "load of kind draw",
        &[r#"{"name": "x", "op": "load", "params": {"kind": "draw"}}"#],
        &["node `x`", "kind"],
    ),
    ("no nodes", &[], &["no nodes"]),
];

#[test]
fn every_validation_error_names_its_node() {
    for (what, nodes, needles) in CASES {
        let message = error_of(nodes);
        for needle in *needles {
            assert!(message.contains(needle), "{what}: `{needle}` missing from: {message}");
        }
    }
}

#[test]
fn a_valid_graph_builds_with_kinds_and_order() {
    voxflow_graph_runner::register_all();
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs/flip.json"))
        .expect("graphs/flip.json");
    let graph = Graph::from_json(&text).expect("flip.json is valid");
    let pos = |name: &str| graph.order.iter().position(|&i| graph.nodes[i].name == name).expect("node");
    assert!(pos("image") < pos("image_flipped") && pos("flip") < pos("label_flipped"));
    assert!(pos("label_flipped") < pos("save_label"));
    let kind = |name: &str| graph.nodes[graph.node_index(name).expect("node")].kind;
    assert_eq!(kind("label_flipped"), voxflow_core::Kind::Label);
    assert_eq!(kind("flip"), voxflow_core::Kind::Draw);
    assert_eq!(
        graph.planned_files("c1", 3),
        vec!["c1/image_3.nii.gz".to_owned(), "c1/label_3.nii.gz".to_owned()]
    );
    // The hash is of the canonical JSON: whitespace and key order do not matter.
    let again = Graph::from_json(&text.replace('\n', " ")).expect("valid");
    assert_eq!(graph.hash, again.hash);
}

#[test]
fn schema_file_is_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs/graph.schema.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == voxflow_graph_runner::graph::schema_json(),
        "graphs/graph.schema.json is stale: regenerate it with `graphrun schema > graphs/graph.schema.json`"
    );
}

#[test]
fn every_committed_graph_validates() {
    voxflow_graph_runner::register_all();
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../graphs");
    let mut n = 0;
    // The graphs and the guide's recipes (graphs/recipes/).
    for dir in [root.to_owned(), format!("{root}/recipes")] {
        for entry in std::fs::read_dir(&dir).expect("graphs/") {
            let path = entry.expect("entry").path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let is_graph = path.extension().is_some_and(|e| e == "json") && !name.contains(".schema.");
            if is_graph {
                Graph::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                n += 1;
            }
        }
    }
    assert!(n >= 7, "{n} graphs");
}

#[test]
fn facts_flow_through_the_graph_before_any_data() {
    voxflow_graph_runner::register_all();
    let graph = |tail: &str| {
        format!(
            r#"{{"nodes": [
              {{"name": "seg", "op": "load", "params": {{"input": "label", "kind": "label"}}}},
              {{"name": "small", "op": "remap_labels", "params": {{"mapping": {{"1": 2}}, "dtype": "uint8"}}, "inputs": {{"volume": "seg"}}}},
              {{"name": "hot", "op": "one_hot", "params": {{"classes": [0, 1, 2]}}, "inputs": {{"volume": "small"}}}},
              {tail}
            ]}}"#
        )
    };
    let ok = Graph::from_json(&graph(
        r#"{"name": "back", "op": "argmax", "params": {"classes": [0, 1, 2], "dtype": "int16"}, "inputs": {"volume": "hot"}}"#,
    ))
    .expect("a valid graph");
    let facts = |name: &str| ok.nodes[ok.node_index(name).expect("node")].facts;
    assert_eq!(facts("seg"), Facts::label(None, None));
    assert_eq!(facts("small"), Facts::label(Some(DType::U8), None));
    assert_eq!(facts("hot"), Facts::image(Some(3)));
    assert_eq!(facts("back"), Facts::label(Some(DType::I16), Some(1)));
    // Two classes for three channels: refused when the graph is validated, naming `classes`.
    let err = Graph::from_json(&graph(
        r#"{"name": "back", "op": "argmax", "params": {"classes": [0, 1]}, "inputs": {"volume": "hot"}}"#,
    ))
    .expect_err("channels and classes differ");
    let text = voxflow_graph_runner::error_render::error_chain(&err);
    assert!(text.contains("classes") && text.contains("3 channels"), "{text}");
    // one_hot of a 3-channel image made into labels again is fine; of the one-hot image itself
    // (an image) it is a kind error, and of merged channels a channel error.
    let err = Graph::from_json(&graph(
        r#"{"name": "again", "op": "one_hot", "params": {"classes": [0, 1]}, "inputs": {"volume": "hot"}}"#,
    ))
    .expect_err("one_hot takes a label map");
    assert!(voxflow_graph_runner::error_render::error_chain(&err).contains("label map"));
}

#[test]
fn the_tutorial_graph_knows_its_grid_before_any_data() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_path(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../graphs/tutorial.json"
    )))
    .expect("graphs/tutorial.json is valid");
    let facts = |name: &str| graph.nodes[graph.node_index(name).expect("node")].facts;
    // Unknown until the files are read.
    assert_eq!(facts("image"), Facts::image(None));
    assert_eq!(facts("label"), Facts::label(None, None));
    // resize fixes the grid; the augmentations keep it.
    for name in [
        "resize.image",
        "resize.label",
        "augment.resize.image.scale",
        "augment.resize.label.rotate",
        "augment.resize.image.shift",
    ] {
        assert_eq!(facts(name).shape, Some([128; 3]), "{name}");
    }
    assert_eq!(facts("resize.image"), Facts::image(None).with_shape(Some([128; 3])));
    // A crop's draw says the shape it makes; applied, the volumes have it, and so does all after.
    assert_eq!(facts("crop"), Facts::draw().with_shape(Some([112; 3])));
    assert_eq!(facts("flip"), Facts::draw());
    for name in
        ["augment.resize.image.crop", "augment.resize.label", "image_normalized", "save_image", "save_label"]
    {
        assert_eq!(facts(name).shape, Some([112; 3]), "{name}");
    }
    assert_eq!(facts("augment.resize.label"), Facts::label(None, None).with_shape(Some([112; 3])));
}

#[test]
fn grid_ops_set_adjust_keep_or_forget_the_shape() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_json(
        r#"{"nodes": [
          {"name": "image", "op": "load"},
          {"name": "cube", "op": "resize", "params": {"shape": [40, 40, 40]}, "inputs": {"volume": "image"}},
          {"name": "half", "op": "resize", "params": {"factor": 0.5}, "inputs": {"volume": "cube"}},
          {"name": "padded", "op": "pad", "params": {"before": [1, 2, 3], "after": [0, 0, 1]}, "inputs": {"volume": "half"}},
          {"name": "boxed", "op": "crop", "params": {"size": [8, 9, 10], "pad": true}, "inputs": {"volume": "image"}},
          {"name": "fixed", "op": "crop_or_pad", "params": {"shape": [16, 16, 8]}, "inputs": {"volume": "image"}},
          {"name": "ras_cube", "op": "reorient", "inputs": {"volume": "cube"}},
          {"name": "ras", "op": "reorient", "inputs": {"volume": "fixed"}},
          {"name": "mm", "op": "resample_to_spacing", "params": {"spacing": [1, 1, 1]}, "inputs": {"volume": "cube"}},
          {"name": "fg", "op": "random_foreground_crop", "params": {"size": [8, 8, 8]}, "inputs": {"like": "seg"}},
          {"name": "seg", "op": "load", "params": {"input": "label", "kind": "label"}},
          {"name": "hot", "op": "one_hot", "params": {"classes": [0, 1]}, "inputs": {"volume": "seg_fixed"}},
          {"name": "seg_fixed", "op": "crop_or_pad", "params": {"shape": [16, 16, 8]}, "inputs": {"volume": "seg"}},
          {"name": "fg_applied", "op": "apply", "inputs": {"volume": "fixed", "draw": "fg"}},
          {"name": "norm", "op": "normalize", "params": {"over": "mask"}, "inputs": {"volume": "fixed", "mask": "seg_fixed"}}
        ]}"#,
    )
    .expect("a valid graph");
    let shape = |name: &str| graph.nodes[graph.node_index(name).expect("node")].facts.shape;
    assert_eq!(shape("half"), Some([20; 3]));
    assert_eq!(shape("padded"), Some([21, 22, 24]));
    assert_eq!(shape("boxed"), Some([8, 9, 10]));
    assert_eq!(shape("fixed"), Some([16, 16, 8]));
    assert_eq!(shape("ras_cube"), Some([40; 3]), "any permutation of a cube is the cube");
    assert_eq!(shape("ras"), None, "the permutation is the file's");
    assert_eq!(shape("mm"), None, "the voxel size is the file's");
    assert_eq!(graph.nodes[graph.node_index("fg").expect("fg")].facts.kind, Kind::Draw);
    assert_eq!(shape("fg_applied"), Some([8; 3]));
    assert_eq!(shape("hot"), Some([16, 16, 8]));
    assert_eq!(shape("norm"), Some([16, 16, 8]));
}

#[test]
fn draws_that_swap_axes_leave_the_shape_to_the_data() {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_json(
        r#"{"nodes": [
          {"name": "image", "op": "load"},
          {"name": "box", "op": "crop_or_pad", "params": {"shape": [16, 12, 8]}, "inputs": {"volume": "image"}},
          {"name": "turn", "op": "random_rot90", "params": {"axes": [0, 1]}},
          {"name": "swap", "op": "random_transpose"},
          {"name": "flip", "op": "random_flip"},
          {"name": "either", "op": "one_of", "params": {"choices": [{"draw": {"op": "random_flip"}}, {"draw": {"op": "random_rot90"}}]}},
          {"name": "flips", "op": "one_of", "params": {"choices": [{"draw": {"op": "random_flip"}}, {"draw": {"op": "random_gamma"}}]}},
          {"name": "turned", "op": "apply", "inputs": {"volume": "box", "draw": "turn"}},
          {"name": "swapped", "op": "apply", "inputs": {"volume": "box", "draw": "swap"}},
          {"name": "flipped", "op": "apply", "inputs": {"volume": "box", "draw": "flip"}},
          {"name": "maybe_turned", "op": "apply", "inputs": {"volume": "box", "draw": "either"}},
          {"name": "kept", "op": "apply", "inputs": {"volume": "box", "draw": "flips"}}
        ]}"#,
    )
    .expect("a valid graph");
    let shape = |name: &str| graph.nodes[graph.node_index(name).expect("node")].facts.shape;
    assert_eq!(shape("box"), Some([16, 12, 8]));
    assert_eq!(shape("turned"), None, "a quarter turn of 16 x 12 may swap them");
    assert_eq!(shape("swapped"), None);
    assert_eq!(shape("maybe_turned"), None, "a composition with a turn among its choices");
    assert_eq!(shape("flipped"), Some([16, 12, 8]));
    assert_eq!(shape("kept"), Some([16, 12, 8]));
}
