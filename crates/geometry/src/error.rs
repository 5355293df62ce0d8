//! Errors of the geometry crate.

use thiserror::Error;

/// A spatial op could not run. Converts into [`voxflow_core::OpError`] (what graph nodes return);
/// `voxflow-elastic` wraps it in its own error.
///
/// ```
/// use voxflow_geometry::{GeometryError, rotate::Rotate, spatial::SpatialOp};
/// # let volume = voxflow_core::Volume::image3(ndarray::Array3::zeros((4, 4, 4)), voxflow_core::Affine::identity());
/// let err = Rotate { axes: [1, 1], ..Default::default() }.apply(&volume).unwrap_err();
/// assert!(matches!(err, GeometryError::Param { param: "axes", .. }));
/// ```
#[derive(Debug, Error)]
pub enum GeometryError {
    /// A parameter is out of range (zero or negative factor, axis out of range, min > max).
    #[error("parameter `{param}`: {message}")]
    Param {
        /// The parameter's name.
        param: &'static str,
        /// What is wrong with its value.
        message: String,
    },
    /// The volume's affine cannot be inverted (zero voxel size).
    #[error("the affine is singular")]
    SingularAffine,
    /// No voxel-to-world orientation can be read from the affine (`reorient`).
    #[error("no orientation can be read from the affine")]
    Orientation(#[source] voxflow_core::OrientationError),
    /// A spatial op was handed something that is not a volume (a draw).
    #[error("expected a volume, got {got}")]
    NotAVolume {
        /// What it got instead.
        got: String,
    },
}

impl GeometryError {
    /// A parameter error.
    pub(crate) fn param(param: &'static str, message: impl Into<String>) -> Self {
        GeometryError::Param { param, message: message.into() }
    }
}

impl From<GeometryError> for voxflow_core::OpError {
    fn from(e: GeometryError) -> Self {
        match e {
            GeometryError::Param { param, message } => voxflow_core::OpError::Param { param, message },
            GeometryError::NotAVolume { got } => voxflow_core::OpError::Input {
                port: "volume".into(),
                message: format!("expected a volume, got {got}"),
            },
            other @ (GeometryError::SingularAffine | GeometryError::Orientation(_)) => {
                voxflow_core::OpError::other(other)
            }
        }
    }
}
