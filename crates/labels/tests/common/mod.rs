//! Helpers shared by the labels tests: running an op as `graphrun` does (a `load → op → save`
//! graph through the dataset runner), and compact summaries.
#![allow(dead_code, clippy::missing_panics_doc, clippy::must_use_candidate)]

use serde_json::{Value as Json, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use voxflow_core::{Kind, LabelType, Volume, Voxels, with_labels};
use voxflow_graph_runner::error_render::error_chain;
use voxflow_graph_runner::{Graph, RunOptions, dataset::Case};

pub fn data(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/")).join(name)
}

pub fn sample(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/")).join(name)
}

/// The graph `load (kind) → op (params) → save`.
pub fn graph_json(kind: Kind, op: &str, params: &Json) -> Json {
    json!({"nodes": [
        {"name": "input", "op": "load", "params": {"input": "image", "kind": kind}},
        {"name": "op", "op": op, "params": params, "inputs": {"volume": "input"}},
        {"name": "save", "op": "save", "params": {"path": "{case}/out.nii.gz"}, "inputs": {"volume": "op"}},
    ]})
}

/// Runs `op` on `input` through a graph and the dataset runner, and reads back what `save`
/// wrote as `out_kind`. `Err` carries the run's failure message.
pub fn run_graph(
    input: &Path,
    kind: Kind,
    op: &str,
    params: &Json,
    out_kind: Kind,
) -> Result<Volume, String> {
    voxflow_graph_runner::register_all();
    let graph = Graph::from_json(&graph_json(kind, op, params).to_string())
        .map_err(|e| format!("graph: {}", error_chain(&e)))?;
    let work = tempfile::tempdir().expect("a temporary directory");
    let out_dir = work.path().join("out");
    let case = Case { id: "case".into(), inputs: [("image".to_owned(), input.to_path_buf())].into() };
    let mut opts = RunOptions::new(&out_dir);
    opts.outputs = Some(1);
    let summary = voxflow_graph_runner::run::run(&graph, &[case], &opts)
        .map_err(|e| format!("run: {}", error_chain(&e)))?;
    if let Some(f) = summary.failures.first() {
        return Err(format!("{f}"));
    }
    voxflow_io_nifti::read(out_dir.join("case/out.nii.gz"), out_kind)
        .map_err(|e| format!("reading the output: {e}"))
}

/// A compact, snapshot-friendly description: shape, dtype, affine diagonal and offset, and the
/// label histogram (label maps) or each frame's voxel sum (images).
pub fn summary(v: &Volume) -> Json {
    let a = v.affine;
    let affine = json!({
        "diagonal": [a[(0, 0)], a[(1, 1)], a[(2, 2)]],
        "offset": [a[(0, 3)], a[(1, 3)], a[(2, 3)]],
    });
    let content = match &v.voxels {
        Voxels::Label(l) => json!({"histogram": histogram(l)}),
        Voxels::Image(img) => {
            let sums: Vec<f64> =
                img.axis_iter(ndarray::Axis(3)).map(|f| f.iter().map(|&x| f64::from(x)).sum()).collect();
            json!({"frame_sums": sums})
        }
    };
    json!({"shape": v.shape4(), "kind": v.kind(), "dtype": v.dtype().numpy_name(), "affine": affine, "content": content})
}

/// `[label, voxel count]` pairs, by label.
pub fn histogram(l: &voxflow_core::LabelArray) -> Vec<(i128, u64)> {
    fn count<T: LabelType>(a: &ndarray::Array4<T>) -> Vec<(i128, u64)> {
        let mut h: BTreeMap<i128, u64> = BTreeMap::new();
        for &v in a {
            *h.entry(v.to_i128()).or_default() += 1;
        }
        h.into_iter().collect()
    }
    with_labels!(l, |a: T| count(a))
}
