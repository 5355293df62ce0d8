//! Errors of the labels crate.

use thiserror::Error;
use voxflow_core::OpError;

/// A label op could not run.
///
/// ```
/// use voxflow_labels::{LabelsError, remap_labels::remap_labels};
/// let labels = ndarray::Array4::<u8>::ones((2, 2, 2, 1));
/// let e = remap_labels::<u8, u8>(labels.view(), &[(1, 300)].into(), None).unwrap_err();
/// assert!(matches!(e, LabelsError::DoesNotFit { param: "mapping", value: 300, .. }));
/// ```
#[derive(Debug, Error)]
pub enum LabelsError {
    /// A parameter is out of range, inconsistent with another, or does not fit the data.
    #[error("parameter `{param}`: {message}")]
    Param { param: &'static str, message: String },
    /// The label map holds a value the parameters do not account for (e.g. a label missing
    /// from `one_hot`'s `classes`).
    #[error("parameter `{param}`: the label map holds {value}, which is not listed")]
    UnlistedLabel { param: &'static str, value: i128 },
    /// A value does not fit the output label type.
    #[error("parameter `{param}`: {value} does not fit the output dtype {dtype}")]
    DoesNotFit { param: &'static str, value: i128, dtype: voxflow_core::DType },
    /// The input volume does not suit the op (wrong kind, frame count).
    #[error("input `volume`: {0}")]
    Input(String),
}

impl LabelsError {
    pub(crate) fn param(param: &'static str, message: impl Into<String>) -> Self {
        LabelsError::Param { param, message: message.into() }
    }
}

impl From<LabelsError> for OpError {
    fn from(e: LabelsError) -> Self {
        match e {
            LabelsError::Param { param, message } => OpError::Param { param, message },
            LabelsError::Input(message) => OpError::Input { port: "volume".into(), message },
            LabelsError::UnlistedLabel { param, value } => {
                OpError::Param { param, message: format!("the label map holds {value}, which is not listed") }
            }
            LabelsError::DoesNotFit { param, value, dtype } => {
                OpError::Param { param, message: format!("{value} does not fit the output dtype {dtype}") }
            }
        }
    }
}
