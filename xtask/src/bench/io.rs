//! Benchmarks of the io area (see `super::Row`): reading and writing a 256^3 f32 volume as
//! `.nii` and `.nii.gz` (level 1), against nibabel 5 (`xtask/python/io.py`, same phantom,
//! same operations, files in a temporary directory).

use super::{Row, median_ms};
use anyhow::{Context, Result};
use ndarray::{Array3, Axis, Zip};
use voxflow_core::{Affine, Kind, Volume};
use voxflow_io_nifti::{WriteOptions, read, write};

const N: usize = 256;
const RUNS: usize = 5;

/// nibabel 5.4 on the reference machine (2 cores): read .nii.gz ~233 ms, write .nii.gz level 1
/// ~806 ms. The issue asks voxflow to be at least 2x (read) and 3x (write) faster.
const TARGET_READ_GZ_MS: f64 = 233.0 / 2.0;
const TARGET_WRITE_GZ_MS: f64 = 806.0 / 3.0;

/// A smooth head-like phantom: ellipsoidal "skull" and "brain" with soft edges and a gentle
/// texture, zero outside. Same formula as `phantom()` in `xtask/python/io.py`; realistic
/// compressibility matters for the gzip rows (noise would not compress at all).
pub fn phantom(n: usize) -> Volume {
    let c = (n as f64 - 1.0) / 2.0;
    let h = n as f64 / 2.0;
    let mut data = Array3::<f32>::zeros((n, n, n));
    Zip::indexed(data.axis_iter_mut(Axis(0))).par_for_each(|i, mut plane| {
        let x = (i as f64 - c) / h;
        for ((j, k), v) in plane.indexed_iter_mut() {
            let (y, z) = ((j as f64 - c) / h, (k as f64 - c) / h);
            let r = ((x / 0.8).powi(2) + (y / 0.95).powi(2) + (z / 0.9).powi(2)).sqrt();
            if r > 1.05 {
                continue;
            }
            let head = 1.0 / (1.0 + ((r - 1.0) * 40.0).exp());
            let brain = 1.0 / (1.0 + ((r - 0.85) * 40.0).exp());
            let texture = 1.0 + 0.1 * (8.0 * x).sin() * (6.0 * y).cos() * (5.0 * z).sin();
            *v = (300.0 * head + 500.0 * brain * texture) as f32;
        }
    });
    Volume::image3(data, Affine::identity())
}

pub fn rows() -> Result<Vec<Row>> {
    let volume = phantom(N);
    let dir = std::env::temp_dir().join(format!("voxflow-bench-io-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = measure(&volume, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn measure(volume: &Volume, dir: &std::path::Path) -> Result<Vec<Row>> {
    let options = WriteOptions::default();
    let mut rows = Vec::new();
    for (ext, label, targets) in [
        ("nii", ".nii", (None, None)),
        ("nii.gz", ".nii.gz level 1", (Some(TARGET_WRITE_GZ_MS), Some(TARGET_READ_GZ_MS))),
    ] {
        let path = dir.join(format!("phantom.{ext}"));
        write(&path, volume, &options)?;
        let mut failed = None;
        let write_ms = median_ms(RUNS, || {
            if let Err(e) = write(&path, volume, &options) {
                failed = Some(e);
            }
        });
        let read_ms = median_ms(RUNS, || match read(&path, Kind::Image) {
            Ok(v) => drop(std::hint::black_box(v)),
            Err(e) => failed = Some(e),
        });
        if let Some(e) = failed {
            return Err(e.into());
        }
        rows.push(Row {
            name: format!("nifti write {label}, 256^3 f32"),
            voxflow_ms: write_ms,
            target_ms: targets.0,
            baseline: "nibabel.save",
        });
        rows.push(Row {
            name: format!("nifti read {label}, 256^3 f32"),
            voxflow_ms: read_ms,
            target_ms: targets.1,
            baseline: "nibabel.load(mmap=False).get_fdata(float32)",
        });
    }
    Ok(rows)
}
