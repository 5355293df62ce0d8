//! The voxels a statistic is computed over: [`Over`] (the parameter), [`Region`] (with its
//! data, for the kernels) and their flattened, per-chunk forms for the reductions.

use crate::IntensityError;
use crate::frame::fortran_slice;
use ndarray::ArrayView3;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// Which voxels a statistic (percentile, mean, std, min, max) is computed over.
///
/// ```
/// use voxflow_intensity::Over;
/// use voxflow_intensity::percentile_clip::PercentileClip;
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::from_shape_fn((8, 8, 8), |(i, j, k)| (i + j + k) as f32), voxflow_core::Affine::identity());
/// let clip = PercentileClip { lower: 0.0, upper: 1.0, over: Over::Nonzero, ..Default::default() };
/// assert_eq!(clip.apply(&volume)?.image()?[[0, 0, 0, 0]], 1.0); // the least non-zero voxel
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Over {
    /// Every voxel.
    #[default]
    All,
    /// Voxels whose value is not zero (the tutorial's "mean" normalisation; nnU-Net's
    /// non-zero mask for MRI).
    Nonzero,
    /// Voxels where the `mask` input (a label map) is non-zero, or holds one of `labels`.
    Mask,
}

impl Over {
    #[must_use]
    pub(crate) fn name(self) -> &'static str {
        match self {
            Over::All => "all",
            Over::Nonzero => "nonzero",
            Over::Mask => "mask",
        }
    }
}

/// [`Over`] with its data, for the plain kernel functions.
///
/// ```
/// use voxflow_intensity::{Region, percentiles};
/// let frame = ndarray::Array3::from_shape_fn((4, 1, 1), |(i, _, _)| i as f32); // 0, 1, 2, 3
/// let mask = frame.mapv(|v| v < 2.0);
/// assert_eq!(percentiles(frame.view(), &[100.0], Region::All)?, [3.0]);
/// assert_eq!(percentiles(frame.view(), &[100.0], Region::Mask(mask.view()))?, [1.0]);
/// # Ok::<(), voxflow_intensity::IntensityError>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub enum Region<'a> {
    All,
    Nonzero,
    /// Voxels where the mask is true; same shape as the frame.
    Mask(ArrayView3<'a, bool>),
}

impl Region<'_> {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Region::All => "all",
            Region::Nonzero => "nonzero",
            Region::Mask(_) => "mask",
        }
    }
}

/// A region flattened to the Fortran order of [`fortran_slice`].
#[derive(Debug, Clone)]
pub(crate) enum FlatRegion<'a> {
    All,
    Nonzero,
    Mask(Cow<'a, [bool]>),
}

impl<'a> FlatRegion<'a> {
    pub(crate) fn new(region: Region<'a>, shape: [usize; 3]) -> Result<Self, IntensityError> {
        Ok(match region {
            Region::All => FlatRegion::All,
            Region::Nonzero => FlatRegion::Nonzero,
            Region::Mask(m) => {
                if m.shape() != shape {
                    return Err(IntensityError::Mask(format!(
                        "mask shape {:?} differs from the image's {shape:?}",
                        m.shape()
                    )));
                }
                FlatRegion::Mask(fortran_slice(m))
            }
        })
    }

    /// The part of the region covering `data[start..start + len]`.
    pub(crate) fn chunk(&self, start: usize, len: usize) -> ChunkRegion<'_> {
        match self {
            FlatRegion::All => ChunkRegion::All,
            FlatRegion::Nonzero => ChunkRegion::Nonzero,
            FlatRegion::Mask(m) => ChunkRegion::Mask(&m[start..start + len]),
        }
    }
}

/// A region restricted to one chunk.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChunkRegion<'a> {
    All,
    Nonzero,
    Mask(&'a [bool]),
}

impl ChunkRegion<'_> {
    /// Calls `f` on every voxel of `data` inside the region.
    #[inline]
    pub(crate) fn for_each(self, data: &[f32], mut f: impl FnMut(f32)) {
        match self {
            ChunkRegion::All => data.iter().for_each(|&v| f(v)),
            ChunkRegion::Nonzero => data.iter().filter(|v| **v != 0.0).for_each(|&v| f(v)),
            ChunkRegion::Mask(m) => data.iter().zip(m).filter(|(_, m)| **m).for_each(|(&v, _)| f(v)),
        }
    }
}
