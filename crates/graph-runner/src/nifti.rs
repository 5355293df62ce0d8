//! The one place this crate calls `voxflow-io-nifti` (reading, writing, headers).

use std::path::Path;
use voxflow_core::{Affine, DType, Kind, Volume};

/// An I/O failure, with the file it is about.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}")]
pub struct NiftiIoError {
    pub path: String,
    pub message: String,
}

fn err(path: &Path, e: &dyn std::error::Error) -> NiftiIoError {
    let message = crate::run::error_chain(e);
    // io-nifti's errors usually name the file already.
    let path = path.display().to_string();
    let message = message.strip_prefix(&format!("{path}: ")).map_or(message.clone(), ToOwned::to_owned);
    NiftiIoError { path, message }
}

/// Reads a volume as `kind`.
pub fn read(path: &Path, kind: Kind) -> Result<Volume, NiftiIoError> {
    voxflow_io_nifti::read(path, kind).map_err(|e| err(path, &e))
}

/// Writes a volume atomically (io-nifti writes a temp file and renames it).
pub fn write(
    path: &Path,
    volume: &Volume,
    gzip_level: u32,
    dtype: Option<DType>,
) -> Result<(), NiftiIoError> {
    let options = voxflow_io_nifti::WriteOptions { gzip_level, image_dtype: dtype.unwrap_or(DType::F32) };
    voxflow_io_nifti::write(path, volume, &options).map_err(|e| err(path, &e))
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
    let (h, volume) = voxflow_io_nifti::read_with_header(path, Kind::Image).map_err(|e| err(path, &e))?;
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
