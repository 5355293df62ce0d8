//! The one place this crate calls `voxflow-io-nifti` (reading, writing, headers).

use std::path::{Path, PathBuf};
use voxflow_core::{Affine, CoreError, DType, Kind, Volume};

/// A NIfTI file could not be read or written, or not as what was asked. Every variant names
/// the file; the cause is the `source()`.
#[derive(Debug, thiserror::Error)]
pub enum NiftiIoError {
    /// io-nifti's error (it names the file).
    #[error(transparent)]
    Nifti(#[from] voxflow_io_nifti::NiftiError),
    /// The file was read, but its volume is not of the kind asked for.
    #[error("{path}")]
    Volume { path: PathBuf, source: CoreError },
}

/// Reads a volume as `kind`.
pub fn read(path: &Path, kind: Kind) -> Result<Volume, NiftiIoError> {
    // A header may claim any size: the reader refuses more voxels than the memory budget can
    // hold (4 bytes each as an image) or than io-nifti's own limit, before allocating.
    let by_budget = voxflow_core::memory::budget() / 4;
    let max_voxels = by_budget.min(voxflow_io_nifti::read::MAX_VOXELS);
    Ok(voxflow_io_nifti::read::read_with_limit(path, kind, max_voxels)?.1)
}

/// Writes a volume atomically (io-nifti writes a temp file and renames it).
pub fn write(
    path: &Path,
    volume: &Volume,
    gzip_level: u32,
    dtype: Option<DType>,
) -> Result<(), NiftiIoError> {
    let options = voxflow_io_nifti::WriteOptions { gzip_level, image_dtype: dtype.unwrap_or(DType::F32) };
    Ok(voxflow_io_nifti::write(path, volume, &options)?)
}

/// What `graphrun info` shows about a file's header.
#[derive(Debug, Clone)]
pub struct HeaderInfo {
    pub version: u8,
    pub shape: Vec<usize>,
    pub stored_dtype: String,
    pub pixdim: Vec<f64>,
    pub scl_slope: f64,
    pub scl_inter: f64,
    pub sform_code: i32,
    pub qform_code: i32,
    pub affine: Affine,
    pub orientation: String,
}

/// Reads a header and the image (as f32) of a file.
pub fn read_info(path: &Path) -> Result<(HeaderInfo, Volume), NiftiIoError> {
    let (h, volume) = voxflow_io_nifti::read_with_header(path, Kind::Image)?;
    let info = HeaderInfo {
        version: h.version,
        shape: h.shape.clone(),
        stored_dtype: h.datatype.numpy_name().to_owned(),
        pixdim: h.pixdim.clone(),
        scl_slope: h.scl_slope,
        scl_inter: h.scl_inter,
        sform_code: h.sform_code,
        qform_code: h.qform_code,
        affine: h.affine,
        orientation: voxflow_io_nifti::orientation_code(&h.affine).iter().collect(),
    };
    Ok((info, volume))
}
