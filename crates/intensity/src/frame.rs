//! Frame layout: a 3D frame's voxels in Fortran (NIfTI) order, buffers, and the parallel
//! per-voxel maps, in fixed chunks so results do not depend on the number of threads.

use ndarray::{Array3, ArrayView3, ShapeBuilder};
use rayon::prelude::*;
use std::borrow::Cow;

/// Voxels per chunk of the parallel loops. Reductions are computed per chunk and the chunk
/// results combined in chunk order, so results do not depend on the number of threads.
pub(crate) const CHUNK: usize = 1 << 16;

/// A frame's voxels in Fortran (NIfTI) order, x fastest: borrowed when the frame is laid out
/// that way (always the case for volumes read from NIfTI), copied otherwise.
pub(crate) fn fortran_slice<T: Copy>(frame: ArrayView3<'_, T>) -> Cow<'_, [T]> {
    let reversed = frame.reversed_axes();
    match reversed.to_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(reversed.iter().copied().collect()),
    }
}

/// An array of `shape` from voxels in Fortran order.
pub(crate) fn from_fortran<T>(shape: [usize; 3], data: Vec<T>) -> Array3<T> {
    Array3::from_shape_vec(shape.f(), data).expect("the voxel count matches the shape")
}

pub(crate) fn shape3<T>(frame: &ArrayView3<'_, T>) -> [usize; 3] {
    let s = frame.shape();
    [s[0], s[1], s[2]]
}

/// A new zeroed buffer for `len` voxels, advised to use huge pages (see
/// `voxflow_core::memory`: a 64 MB output then takes 32 page faults instead of 16k).
pub(crate) fn new_buffer(len: usize) -> Vec<f32> {
    let mut out = vec![0f32; len];
    voxflow_core::memory::advise_huge_pages(&mut out);
    out
}

/// Applies `f` to every voxel, in parallel; the output is in Fortran order.
///
/// Through [`map_voxel_slices`] (copy a block, then map it in place): mapping from the input
/// straight into the output did not vectorise when `f` captures values (the compiler cannot
/// rule out that the output aliases them, so it reloads them at every voxel).
pub(crate) fn map_voxels(frame: ArrayView3<'_, f32>, f: impl Fn(f32) -> f32 + Sync) -> Array3<f32> {
    map_voxel_slices(frame, |s| s.iter_mut().for_each(|v| *v = f(*v)))
}

/// Voxels per block of [`map_voxel_slices`]: a block is copied, then transformed while in L1.
const COPY_BLOCK: usize = 4096;

/// Like [`map_voxels`] for a function that transforms a slice of voxels in place (for maps
/// that vectorise better over blocks than voxel by voxel); the output is in Fortran order.
pub(crate) fn map_voxel_slices(frame: ArrayView3<'_, f32>, f: impl Fn(&mut [f32]) + Sync) -> Array3<f32> {
    let shape = shape3(&frame);
    let input = fortran_slice(frame);
    let mut out = new_buffer(input.len());
    out.par_chunks_mut(CHUNK).zip(input.par_chunks(CHUNK)).for_each(|(o, i)| {
        for (o, i) in o.chunks_mut(COPY_BLOCK).zip(i.chunks(COPY_BLOCK)) {
            o.copy_from_slice(i);
            f(o);
        }
    });
    from_fortran(shape, out)
}
