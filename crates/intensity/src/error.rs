//! Errors of the intensity crate.

use thiserror::Error;
use voxflow_core::OpError;

/// An intensity op could not run.
///
/// ```
/// use voxflow_intensity::IntensityError;
/// use voxflow_intensity::normalize::Normalize;
/// let frame = ndarray::Array3::<f32>::zeros((4, 4, 4));
/// let bad = Normalize { ddof: 2, ..Default::default() };
/// let error = voxflow_intensity::normalize(frame.view(), &bad, None).unwrap_err();
/// assert!(matches!(error, IntensityError::Param { param: "ddof", .. }));
/// ```
#[derive(Debug, Error)]
pub enum IntensityError {
    /// A parameter is out of range or inconsistent with another.
    #[error("parameter `{param}`: {message}")]
    Param { param: &'static str, message: String },
    /// The voxels a statistic is computed over are none (empty mask, all-NaN image, ...).
    #[error("no voxels to compute {what} over (over = {over}, after leaving out NaN)")]
    EmptyRegion { what: &'static str, over: &'static str },
    /// The image holds NaN or infinite voxels and the op was told to refuse them.
    #[error(
        "the image has {count} non-finite voxel(s) (NaN or infinite); set `nan` to {{\"replace\": value}} to accept them"
    )]
    NonFinite { count: u64 },
    /// The mask does not fit the image.
    #[error("input `mask`: {0}")]
    Mask(String),
}

impl IntensityError {
    pub(crate) fn param(param: &'static str, message: impl Into<String>) -> Self {
        IntensityError::Param { param, message: message.into() }
    }
}

impl From<IntensityError> for OpError {
    fn from(e: IntensityError) -> Self {
        match e {
            IntensityError::Param { param, message } => OpError::Param { param, message },
            IntensityError::Mask(message) => OpError::Input { port: "mask".into(), message },
            other => OpError::other(other),
        }
    }
}
