//! voxflow-labels: ops on label maps.
//!
//! Every op here keeps the affine. Ops whose output is a label map keep the input's dtype
//! unless a `dtype` parameter says otherwise, and never create a label the parameters do not
//! imply (a mapped value, a `default`, a `fill`, a region index). Label maps with several
//! frames are processed frame by frame, except by the ops that add a channel axis (`one_hot`,
//! `merge_labels` as channels), which take 3D label maps.
//!
//! | op | what | counterpart |
//! |---|---|---|
//! | [`remap_labels`](remap_labels::RemapLabels) | relabel through a table, optionally into another dtype | `out[x == k] = v` |
//! | [`merge_labels`](merge_labels::MergeLabels) | labels into ordered regions: 0/1 channels or a nested map | BraTS regions, nnU-Net region-based training |
//! | [`one_hot`](one_hot::OneHot) | label map → one f32 frame per listed class | `np.stack([x == c for c in classes], -1)` |
//! | [`argmax`](argmax::Argmax) | f32 frames → label map | `np.asarray(classes)[np.argmax(x, -1)]` |
//! | [`remove_labels`](remove_labels::RemoveLabels) | listed labels → `fill` | `out[np.isin(x, labels)] = fill` |
//! | [`keep_largest_component`](keep_largest_component::KeepLargestComponent) | per label, the largest connected component | `scipy.ndimage.label` |
//! | [`remove_small_components`](remove_small_components::RemoveSmallComponents) | per label, components of fewer than `min_voxels` → `fill` | `scipy.ndimage.label`, skimage `remove_small_objects` |
//!
//! Output kinds are known before any data is read (`Op::output_kind`): `one_hot` and
//! `merge_labels` with `output: channels` give an image, `argmax` a label map.
//!
//! Each op's parameter struct has `Default` (the graph's defaults; neutral values for required
//! parameters) and `apply`, which runs the op on a [`Volume`](voxflow_core::Volume) in one
//! call, as its graph node does:
//!
//! ```
//! use voxflow_core::{Affine, Volume};
//! use voxflow_labels::remove_labels::RemoveLabels;
//! let ramp = ndarray::Array3::<u8>::from_shape_fn((8, 8, 8), |(i, _, _)| i as u8);
//! let label = Volume::label3(ramp, Affine::identity());
//! let out = RemoveLabels { labels: vec![7], ..Default::default() }.apply(&label)?;
//! assert_eq!(out.dtype(), label.dtype());
//! assert!(voxflow_labels::mask(out.labels()?, Some(&[7])).iter().all(|&m| !m));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Kernels on arrays (usable without a volume): [`mask`], [`remap_labels()`](remap_labels::remap_labels),
//! [`one_hot()`](one_hot::one_hot), [`argmax()`](argmax::argmax), [`filter_components`].

pub mod argmax;
mod common;
pub mod components;
pub mod error;
pub mod keep_largest_component;
pub mod merge_labels;
pub mod one_hot;
pub mod remap_labels;
pub mod remove_labels;
pub mod remove_small_components;

pub use common::mask;
pub use components::{Connectivity, Keep, filter_components};
pub use error::LabelsError;

/// Links this crate's ops into a binary (typetag registers them at link time).
///
/// ```
/// voxflow_labels::register();
/// assert!(voxflow_core::op_docs().any(|doc| doc.name == "keep_largest_component"));
/// ```
pub fn register() {}
