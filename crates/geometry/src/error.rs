//! Errors of the geometry crate.

use thiserror::Error;

/// A spatial op could not run.
#[derive(Debug, Error)]
pub enum GeometryError {
    /// A parameter is out of range (zero or negative factor, axis out of range, min > max).
    #[error("parameter `{param}`: {message}")]
    Param { param: &'static str, message: String },
    /// The volume's affine cannot be inverted (zero voxel size).
    #[error("the affine is singular")]
    SingularAffine,
    /// No voxel-to-world orientation can be read from the affine (`reorient`).
    #[error("no orientation can be read from the affine")]
    Orientation(#[source] voxflow_core::OrientationError),
    /// A spatial op was handed something that is not a volume (a draw).
    #[error("expected a volume, got {got}")]
    NotAVolume { got: String },
}

impl GeometryError {
    /// A parameter error.
    pub fn param(param: &'static str, message: impl Into<String>) -> Self {
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
