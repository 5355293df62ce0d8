//! Errors of the elastic crate.

use thiserror::Error;
use voxflow_core::OpError;
use voxflow_geometry::GeometryError;

/// An elastic deformation could not be computed.
///
/// ```
/// use voxflow_elastic::{ElasticError, SimardParams, simard_field};
/// let e = simard_field([4, 4, 4], &SimardParams { alpha: 1.0, sigma: 0.0 }, 0).unwrap_err();
/// assert!(matches!(e, ElasticError::Param { param: "sigma", .. }));
/// ```
#[derive(Debug, Error)]
pub enum ElasticError {
    /// A parameter is out of range.
    #[error("parameter `{param}`: {message}")]
    Param { param: &'static str, message: String },
    /// The resample failed.
    #[error(transparent)]
    Geometry(#[from] GeometryError),
}

impl ElasticError {
    /// A parameter error.
    pub(crate) fn param(param: &'static str, message: impl Into<String>) -> Self {
        ElasticError::Param { param, message: message.into() }
    }
}

impl From<ElasticError> for OpError {
    fn from(e: ElasticError) -> Self {
        match e {
            ElasticError::Param { param, message } => OpError::Param { param, message },
            ElasticError::Geometry(g) => g.into(),
        }
    }
}
