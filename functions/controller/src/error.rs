//! The controller's errors. Each message names the bad value; each variant maps to a Lambda
//! `errorType` so a failed invocation says what kind of failure it was.

use crate::decision::Weights;
use aws_smithy_types::error::display::DisplayErrorContext;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: environment variable {name} {problem}")]
    Config { name: &'static str, problem: String },

    #[error("bad event: {0}")]
    BadEvent(String),

    #[error(
        "listener {listener} refused: its default action must forward to exactly the two configured target groups ({expected}); found {found}"
    )]
    ListenerShape {
        listener: String,
        expected: String,
        found: String,
    },

    #[error("invalid weights: {0}")]
    InvalidWeights(String),

    #[error("listener {listener} holds {found} after writing {expected}")]
    NotLanded {
        listener: String,
        expected: Weights,
        found: Weights,
    },

    #[error("state item for {key} is malformed: {problem}")]
    State { key: String, problem: String },

    #[error("another run changed the state of {key} first (version {version}); nothing recorded")]
    Conflict { key: String, version: String },

    #[error("{operation} failed: {message}")]
    Aws {
        operation: &'static str,
        message: String,
    },
}

impl Error {
    /// The Lambda `errorType` of this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            Error::Config { .. } => "ConfigError",
            Error::BadEvent(_) => "BadEvent",
            Error::ListenerShape { .. } => "ListenerRefused",
            Error::InvalidWeights(_) => "InvalidWeights",
            Error::NotLanded { .. } => "WeightsNotLanded",
            Error::State { .. } => "StateMalformed",
            Error::Conflict { .. } => "StateConflict",
            Error::Aws { .. } => "AwsError",
        }
    }

    /// Maps an SDK error to [`Error::Aws`] with its full context (the SDK's `Display` says only
    /// "service error").
    pub fn aws<E: std::error::Error>(operation: &'static str) -> impl FnOnce(E) -> Error {
        move |err| Error::Aws {
            operation,
            message: DisplayErrorContext(&err).to_string(),
        }
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: err.to_string(),
        }
    }
}
