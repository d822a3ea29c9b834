//! The controller's errors. Each message names the bad value; each variant maps to a Lambda
//! `errorType` so a failed invocation says what kind of failure it was.

use crate::aws_error;
use crate::decision::Weights;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
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

    /// One line (`S3 GetObject: AccessDenied: Access Denied`); the SDK error is the source.
    #[error("{summary}")]
    Aws {
        summary: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
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

    /// `.map_err(Error::aws)`: the SDK's `Display` says only "service error", so the line is made
    /// from the error's service, operation, code and message.
    pub fn aws<E, R>(err: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        Error::Aws {
            summary: aws_error::summary(&err),
            source: Some(Box::new(err)),
        }
    }

    /// A call that succeeded but answered something unusable (`service_operation` as in
    /// `S3 GetObject`).
    pub fn aws_reply(service_operation: &str, problem: impl std::fmt::Display) -> Error {
        Error::Aws {
            summary: format!("{service_operation}: {problem}"),
            source: None,
        }
    }

    /// The line, then every cause: what a failed invocation reports, so its log has the request
    /// ids and transport details the line leaves out.
    pub fn with_causes(&self) -> String {
        let mut text = self.to_string();
        if let Error::Aws {
            source: Some(source),
            ..
        } = self
        {
            text.push_str(&format!(" ({})", DisplayErrorContext(source.as_ref())));
        }
        text
    }
}

impl From<Error> for lambda_runtime::Diagnostic {
    fn from(err: Error) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_string(),
            error_message: err.with_causes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use alb_canary_tests::sdk_errors::get_object_refused;

    use super::*;

    #[test]
    fn an_aws_error_is_one_line_and_its_diagnostic_keeps_the_causes() {
        let err = Error::aws(get_object_refused(
            403,
            "AccessDenied",
            "Access Denied",
            "req-7",
        ));
        assert_eq!(err.to_string(), "S3 GetObject: AccessDenied: Access Denied");
        let diagnostic = lambda_runtime::Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, "AwsError");
        let message = diagnostic.error_message;
        assert!(
            message.starts_with("S3 GetObject: AccessDenied: Access Denied ("),
            "{message}"
        );
        assert!(message.contains("req-7"), "{message}");
    }
}
