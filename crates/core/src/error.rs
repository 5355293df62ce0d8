//! Errors shared by every crate: a volume that does not fit, and an op that failed.

use thiserror::Error;

/// An error about a volume itself (shape, kind, dtype).
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("shape {shape:?} does not hold {len} voxels")]
    ShapeMismatch { shape: Vec<usize>, len: usize },
    #[error("{0} cannot hold a label map: label maps need an integer type")]
    NotAnIntegerType(crate::DType),
    #[error("expected {expected}, got {got}")]
    WrongKind { expected: &'static str, got: &'static str },
}

/// An error raised by an op. The runner adds the node's name when it reports it.
#[derive(Debug, Error)]
pub enum OpError {
    /// A parameter is out of range or inconsistent with another.
    #[error("parameter `{param}`: {message}")]
    Param { param: &'static str, message: String },
    /// An input is missing or of the wrong kind.
    #[error("input `{port}`: {message}")]
    Input { port: String, message: String },
    #[error(transparent)]
    Core(#[from] CoreError),
    /// Anything else (I/O from a load or save node, a failure inside a kernel).
    /// (Transparent: its message and source are the wrapped error's.)
    #[error(transparent)]
    Other(Box<dyn std::error::Error + Send + Sync>),
}

impl OpError {
    /// A parameter error, for use in `validate`.
    pub fn param(param: &'static str, message: impl Into<String>) -> Self {
        OpError::Param { param, message: message.into() }
    }

    /// Wrap any error.
    pub fn other(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        OpError::Other(Box::new(error))
    }
}
