//! Errors of the labels crate.

use thiserror::Error;
use voxflow_core::OpError;

/// A label op could not run.
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
