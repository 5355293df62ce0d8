//! Spatial ops on volumes with their affine.
//!
//! One resampling core ([`resample`]) pulls an output grid back through a 4x4 voxel matrix onto
//! the input. Grid ops (resize, resample to spacing, crop, pad, reorient) change the grid and
//! update the affine so the anatomy stays where it is in world space. Augmentations (flip,
//! rotate, scale, shift, affine) move the anatomy on the same grid, in millimetres about the
//! volume's physical centre. In a graph, spatial ops hand each other [`voxflow_core::Deferred`]
//! values and resample once ([`spatial`]).

pub mod error;
pub mod resample;
pub mod spatial;

// Ops: one file each (parameter struct, kernel, random sampler if any, node).
pub mod affine;
pub mod apply;
pub mod crop;
pub mod crop_or_pad;
pub mod flip;
pub mod foreground_crop;
pub mod pad;
pub mod reorient;
pub mod resample_to_spacing;
pub mod resize;
pub mod rotate;
pub mod scale;
pub mod shift;

pub use error::GeometryError;

/// Links this crate's ops into a binary. typetag registers ops at link time, and a crate the
/// binary never references is not linked, so the runner calls this once per op crate.
pub fn register() {}
