//! `graphrun info`: what nibabel's `nib-ls` shows about NIfTI files.

use crate::nifti::{self, NiftiIoError};
use serde::Serialize;
use std::path::Path;

/// A file's summary. `sum`, `min` and `max` are over the scaled voxels (nibabel's
/// `get_fdata()`), computed in f64.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub nifti_version: u8,
    pub shape: Vec<usize>,
    /// The dtype on disk (numpy name).
    pub stored_dtype: String,
    /// The dtype the values have after scaling (float64 when `scl_slope`/`scl_inter` apply,
    /// as nibabel computes it; the stored dtype otherwise).
    pub computed_dtype: String,
    pub spacing: Vec<f64>,
    pub orientation: String,
    pub affine: [[f64; 4]; 4],
    pub scl_slope: f64,
    pub scl_inter: f64,
    pub sform_code: i32,
    pub qform_code: i32,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
}

/// Reads one file's summary.
pub fn file_info(path: &Path) -> Result<FileInfo, NiftiIoError> {
    let (header, volume) = nifti::read_info(path)?;
    let data = volume.image().map_err(|source| NiftiIoError::Volume { path: path.to_path_buf(), source })?;
    // In memory order: NIfTI data is Fortran-ordered, and walking it in logical (C) order
    // jumps a whole slice between neighbours (4x slower than loading the file).
    let (sum, min, max) = match data.as_slice_memory_order() {
        Some(values) => stats(values.iter().copied()),
        None => stats(data.iter().copied()),
    };
    let scaled = (header.scl_slope != 0.0 && header.scl_slope.is_finite())
        && (header.scl_slope != 1.0 || header.scl_inter != 0.0);
    Ok(FileInfo {
        path: path.display().to_string(),
        nifti_version: header.version,
        shape: header.shape.clone(),
        computed_dtype: if scaled { "float64".to_owned() } else { header.stored_dtype.clone() },
        stored_dtype: header.stored_dtype,
        spacing: header.pixdim.iter().copied().take(header.shape.len()).collect(),
        orientation: header.orientation,
        affine: std::array::from_fn(|r| std::array::from_fn(|c| header.affine[(r, c)])),
        scl_slope: header.scl_slope,
        scl_inter: header.scl_inter,
        sform_code: header.sform_code,
        qform_code: header.qform_code,
        min,
        max,
        sum,
    })
}

/// Sum, minimum and maximum, in f64. The minimum and maximum do not depend on the order of
/// the values, nor does the sum of integer-valued data (exact in f64 below 2^53).
fn stats(values: impl Iterator<Item = f32>) -> (f64, f64, f64) {
    let (mut sum, mut min, mut max) = (0.0f64, f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        let v = f64::from(v);
        sum += v;
        min = min.min(v);
        max = max.max(v);
    }
    (sum, min, max)
}

/// One line per file, like `nib-ls`.
#[must_use]
pub fn human_line(info: &FileInfo) -> String {
    let shape: Vec<String> = info.shape.iter().map(ToString::to_string).collect();
    let spacing: Vec<String> = info.spacing.iter().map(|s| format!("{s:.4}")).collect();
    let dtype = if info.computed_dtype == info.stored_dtype {
        info.stored_dtype.clone()
    } else {
        format!("{} (as {})", info.stored_dtype, info.computed_dtype)
    };
    format!(
        "{}  NIfTI-{}  {}  {}  {}  {}  range [{}, {}]  sform {} qform {}",
        info.path,
        info.nifti_version,
        shape.join("x"),
        dtype,
        spacing.join("x"),
        info.orientation,
        info.min,
        info.max,
        info.sform_code,
        info.qform_code
    )
}
