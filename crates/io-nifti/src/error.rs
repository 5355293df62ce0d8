//! The one error type of this crate. Every variant names the file (or `<stream>` for
//! [`crate::write_to`], `<bytes>` for [`crate::read_bytes`]), so a message read in a log says
//! which input was bad.

use std::path::PathBuf;
use thiserror::Error;

/// Why a NIfTI file could not be read or written. The message says only this layer; an I/O
/// or gzip cause is the `source()`.
#[derive(Debug, Error)]
pub enum NiftiError {
    /// The operating system refused (missing file, permission, disk full, ...): the path, with
    /// the OS's reason as the source.
    #[error("{path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The path is not a regular file (after following symlinks): a FIFO, a socket, a device
    /// or a directory. Refused before opening, so a FIFO cannot block the reader.
    #[error("{path}: not a regular file: it is {what}")]
    NotAFile { path: PathBuf, what: &'static str },
    /// The file is empty.
    #[error("{path}: empty file")]
    Empty { path: PathBuf },
    /// The file ended before `what` was complete.
    #[error("{path}: truncated {what}: expected {expected} bytes, found {found}")]
    Truncated { path: PathBuf, what: &'static str, expected: u64, found: u64 },
    /// `sizeof_hdr` is neither 348 (NIfTI-1) nor 540 (NIfTI-2) in either byte order.
    #[error("{path}: not a NIfTI file: sizeof_hdr is {value}, expected 348 (NIfTI-1) or 540 (NIfTI-2)")]
    BadSizeofHdr { path: PathBuf, value: i32 },
    /// The magic string is not `n+1` / `n+2` (a single-file NIfTI).
    #[error("{path}: bad magic {magic:?}: expected \"n+1\" (NIfTI-1) or \"n+2\" (NIfTI-2) single file")]
    BadMagic { path: PathBuf, magic: String },
    /// `dim` is inconsistent: `dim[0]` out of 1..=7, a zero or negative size, or a product that
    /// overflows.
    #[error("{path}: bad dim {dim:?}: {message}")]
    BadDim { path: PathBuf, dim: Vec<i64>, message: String },
    /// The header claims more voxel data than the file can hold.
    #[error(
        "{path}: the header claims {needed} bytes of voxel data but the file can hold at most {available}"
    )]
    DataTooLarge { path: PathBuf, needed: u64, available: u64 },
    /// The header claims more voxels than the reader's limit ([`crate::MAX_VOXELS`] unless
    /// another was given): refused before anything is allocated.
    #[error("{path}: the header claims {voxels} voxels, more than the limit of {limit}")]
    TooManyVoxels { path: PathBuf, voxels: u64, limit: u64 },
    /// `vox_offset` is not a valid offset (fractional, negative, inside the header, or past
    /// the end of the file).
    #[error("{path}: bad vox_offset {vox_offset}: {message}")]
    BadVoxOffset { path: PathBuf, vox_offset: f64, message: String },
    /// A datatype code voxflow does not read (complex, RGB, float128, or unknown).
    #[error("{path}: unsupported datatype code {code} ({name})")]
    UnsupportedDatatype { path: PathBuf, code: i32, name: &'static str },
    /// The gzip stream is corrupt.
    #[error("{path}: corrupt gzip stream")]
    Gzip {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The header fields needed for the affine (or the scaling) are unusable, e.g. a qform
    /// quaternion whose `b^2 + c^2 + d^2 > 1`, or a valid slope with an infinite intercept.
    #[error("{path}: {field}: {message}")]
    BadField { path: PathBuf, field: &'static str, message: String },
    /// A float-stored file was read as a label map but holds a value that is not an integer
    /// (or does not fit in 64 bits).
    #[error("{path}: cannot read as a label map: voxel value {value} is not an integer (stored as {dtype})")]
    NotIntegral { path: PathBuf, value: f64, dtype: voxflow_core::DType },
    /// A read asked for a kind that is not a volume (`Kind::Draw`).
    #[error("{path}: cannot read a file as {kind}")]
    BadKind { path: PathBuf, kind: voxflow_core::Kind },
    /// `write` was given a path that does not end in `.nii` or `.nii.gz`.
    #[error("{path}: cannot tell the format: the file name must end in .nii or .nii.gz")]
    BadExtension { path: PathBuf },
    /// The volume cannot be written as asked (e.g. an image volume with a non-finite value when
    /// an integer `image_dtype` needs scaling).
    #[error("{path}: cannot write: {message}")]
    Unwritable { path: PathBuf, message: String },
}

/// The path used in errors of the stream functions ([`crate::write_to`]).
pub(crate) const STREAM: &str = "<stream>";
/// The path used in errors of [`crate::read_bytes`].
pub(crate) const BYTES: &str = "<bytes>";
