//! voxflow-io-nifti: read and write NIfTI-1 / NIfTI-2 volumes (`.nii`, `.nii.gz`) exactly as
//! nibabel reads them.
//!
//! # Why our own reader and writer
//! The `nifti` crate (0.18) was evaluated first (see the project's DEPENDENCIES.md). It lacks
//! NIfTI-2, detects gzip by the file name, truncates multi-member gzip (bgzip, pigz `-i`,
//! and our own parallel writer), reads a NaN `scl_slope` as all-NaN, panics on a bad qform,
//! and copies the data twice. The headers are two small fixed layouts (348 and 540 bytes), so
//! owning them costs little and buys exact nibabel semantics, typed errors and speed:
//!
//! * **Version and byte order** come from `sizeof_hdr` (348 or 540, in either order).
//! * **gzip** is detected by its magic bytes (`1f 8b`), never by extension, and decoded with
//!   flate2's `MultiGzDecoder` (zlib-rs backend), so multi-member files read whole.
//! * **The affine** is the one nibabel chooses ([`Header::affine`]): sform when
//!   `sform_code != 0`, else qform when `qform_code != 0`, else nibabel's base affine
//!   (`shape_zoom_affine` with the x axis flipped). The qform maths follows nibabel
//!   (`fillpositive`, `quat2mat`, `qfac`), including its load-time fixes (qfac not ±1 → 1,
//!   zero pixdim → 1, negative pixdim → abs, invalid xform codes → 0). See [`affine`].
//! * **Images** are f32, with `scl_slope`/`scl_inter` applied in f64 then cast (a slope of 0
//!   or NaN means no scaling, as nibabel). **Label maps** keep their integer type and are
//!   never scaled; a float-stored file read as labels must hold only integers.
//! * **Shape**: arrays are `[x, y, z, t]` in Fortran order, like the file. Files with fewer
//!   than 3 dims get size-1 axes; **dims beyond the fourth are flattened into `t`** (a 5D
//!   `x, y, z, 1, c` file reads as `x, y, z, c`). [`Header::shape`] keeps the original dims.
//! * **Memory**: nothing is allocated from the header's numbers before the data is known to
//!   be possible: the product of the dims must not overflow; for `.nii` the file length must
//!   hold the data; for `.nii.gz` the claimed size must be at most 1032 times the file size
//!   (deflate's maximum ratio); and the voxel count must be at most [`MAX_VOXELS`] (2^31, or
//!   the limit given to [`read_with_limit`] / [`read_bytes`]). The voxels are then decoded in
//!   256 KiB chunks straight into the output array: for `.nii`, one allocation of the final
//!   size; for `.nii.gz`, whose size is only a claim until the data is decoded, the array
//!   starts at 64 MiB and grows as data arrives (capacity never past the final size), so a
//!   small file claiming a large volume fails having allocated about what it held. A stream
//!   longer than its header says is read at most 1 MiB past the data (to check the CRC) and
//!   the rest ignored, as nibabel ignores it.
//! * **Only regular files** are read (checked after following symlinks, before opening): a
//!   FIFO, a device or a directory is an error, never a hang. [`read_bytes`] reads a file
//!   already in memory (the fuzz target's entry point).
//! * **Errors** are typed ([`NiftiError`]), name the file, and nothing panics on bad input.
//!
//! Writing (see [`write()`]) produces NIfTI-1 `n+1` files, gzip-compressed in parallel as a
//! multi-member stream, atomically (temporary file + rename).
//!
//! **Indexed gzip.** Every gzip member voxflow writes carries an extra field (subfield `VF`:
//! the member's total length), as BGZF does, so voxflow's reader finds the members without
//! decompressing and inflates them in parallel, each straight into its part of the output.
//! Any other gzip file (nibabel's, `gzip`'s, a multi-member file without the field, or one
//! whose index does not add up) is streamed with `MultiGzDecoder`. Other readers ignore the
//! field, as RFC 1952 requires (nibabel, zlib and `gzip -t` read the files; checked by
//! `scripts/nibabel_check.py`).

pub mod affine;
pub mod error;
pub mod header;
pub mod read;
pub mod write;

pub use affine::orientation_code;
pub use error::NiftiError;
pub use header::Header;
pub use read::{MAX_VOXELS, read, read_bytes, read_header, read_with_header, read_with_limit};
pub use voxflow_core::Kind;
pub use write::{WriteOptions, write, write_to};

/// Links this crate's ops into a binary (typetag registers them at link time).
pub fn register() {}
