//! What the `graphrun` end-to-end tests share: a small synthetic nnU-Net dataset, a graph
//! with random draws on image and label, and running the binary.
#![allow(dead_code)] // each test file uses its own part

use ndarray::Array3;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use voxflow_core::{Affine, Volume};

pub const BIN: &str = env!("CARGO_BIN_EXE_graphrun");

/// Flip, shift (a resample) and noise (per-voxel random numbers) on image and label.
pub const GRAPH: &str = r#"{"seed": 7, "outputs": 2, "nodes": [
 {"name": "image", "op": "load"},
 {"name": "label", "op": "load", "params": {"input": "label", "kind": "label"}},
 {"name": "flip", "op": "random_flip"},
 {"name": "shift", "op": "random_shift", "params": {"max": [0.2, 0.2, 0.2]}},
 {"name": "noise", "op": "random_noise", "params": {"std": [0.0, 5.0]}},
 {"name": "image_f", "op": "apply", "inputs": {"volume": "image", "draw": "flip"}},
 {"name": "label_f", "op": "apply", "inputs": {"volume": "label", "draw": "flip"}},
 {"name": "image_s", "op": "apply", "inputs": {"volume": "image_f", "draw": "shift"}},
 {"name": "label_s", "op": "apply", "inputs": {"volume": "label_f", "draw": "shift"}},
 {"name": "image_n", "op": "apply", "inputs": {"volume": "image_s", "draw": "noise"}},
 {"name": "save_image", "op": "save", "params": {"path": "{case}/image_{output}.nii.gz"}, "inputs": {"volume": "image_n"}},
 {"name": "save_label", "op": "save", "params": {"path": "{case}/label_{output}.nii.gz"}, "inputs": {"volume": "label_s"}}
]}"#;

pub fn affine() -> Affine {
    let mut a = Affine::from_diagonal(&nalgebra::Vector4::new(1.5, 1.5, 2.0, 1.0));
    a[(0, 3)] = -10.0;
    a[(1, 3)] = -12.0;
    a[(2, 3)] = -8.0;
    a
}

/// An nnU-Net dataset of `n` cases (24x20x16 image + label).
pub fn dataset(root: &Path, n: usize) -> PathBuf {
    let dir = root.join("ds");
    std::fs::create_dir_all(dir.join("imagesTr")).expect("mkdir");
    std::fs::create_dir_all(dir.join("labelsTr")).expect("mkdir");
    for c in 0..n {
        let image = Array3::from_shape_fn((24, 20, 16), |(x, y, z)| {
            100.0 + 20.0 * ((x as f32 * 0.4 + c as f32).sin() + (y as f32 * 0.3).cos()) + z as f32
        });
        let label = image.mapv(|v| u8::from(v > 110.0) + u8::from(v > 125.0));
        let options = voxflow_io_nifti::WriteOptions::default();
        voxflow_io_nifti::write(
            dir.join(format!("imagesTr/case{c}_0000.nii.gz")),
            &Volume::image3(image, affine()),
            &options,
        )
        .expect("write image");
        voxflow_io_nifti::write(
            dir.join(format!("labelsTr/case{c}.nii.gz")),
            &Volume::label3(label, affine()),
            &options,
        )
        .expect("write label");
    }
    dir
}

pub fn graph_file(root: &Path) -> PathBuf {
    let path = root.join("graph.json");
    std::fs::write(&path, GRAPH).expect("write graph");
    path
}

pub fn graphrun(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut cmd = Command::new(BIN);
    for a in args {
        cmd.arg(a);
    }
    cmd.env_remove("SLURM_ARRAY_TASK_ID").env_remove("JOB_COMPLETION_INDEX");
    cmd.output().expect("run graphrun")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn ok(out: &Output) {
    assert!(out.status.success(), "graphrun failed: {}", stderr(out));
}

/// Every file under `dir` (relative path, `/`-separated) with its bytes, but the per-process
/// records of `manifest.d/` (named by host, pid and start time).
pub fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.ends_with("manifest.d") {
                continue;
            }
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).expect("under base").to_string_lossy().replace('\\', "/");
                out.insert(rel, std::fs::read(&path).expect("read"));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
