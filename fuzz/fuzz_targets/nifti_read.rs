//! Any bytes, read as a NIfTI file (plain or gzip, NIfTI-1 or -2) from memory, as an image and
//! as a label map: the reader returns `Ok` or `Err`, never panics, never hangs, never
//! allocates beyond what the bytes can hold.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxflow_core::Kind;
use voxflow_io_nifti::read_bytes;

/// A lower voxel limit than the reader's default, so one input never takes long: 2^22 voxels
/// is far more than any input of a few KiB can hold uncompressed, and still lets a gzip input
/// decode a few MiB.
const MAX_VOXELS: u64 = 1 << 22;

fuzz_target!(|data: &[u8]| {
    let _ = read_bytes(data, Kind::Image, MAX_VOXELS);
    let _ = read_bytes(data, Kind::Label, MAX_VOXELS);
});
