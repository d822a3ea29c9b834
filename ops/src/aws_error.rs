//! Errors of AWS calls for a person at a terminal: one line with the service, the operation, the
//! error code and the message; where credentials were looked for, and how to provide them, when
//! there were none. The SDK error stays the source, so `--debug` prints the whole chain.

use std::error::Error;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// An AWS call that failed, said in one line (plus what to do, when that is known).
#[derive(Debug)]
pub struct AwsError {
    context: Option<String>,
    summary: String,
    help: Option<String>,
    source: Box<dyn Error + Send + Sync>,
}

impl AwsError {
    /// What the caller was doing, said before the summary (`could not read stack alb-canary`).
    pub fn context(mut self, context: impl Into<String>) -> AwsError {
        self.context = Some(context.into());
        self
    }

    /// The one line: service, operation, code and message.
    pub fn summary(&self) -> &str {
        &self.summary
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(context) = &self.context {
            write!(f, "{context}: ")?;
        }
        f.write_str(&self.summary)?;
        if let Some(help) = &self.help {
            write!(f, "\n{help}")?;
        }
        Ok(())
    }
}

impl Error for AwsError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// `map_err(aws_error::describe)`, with `.context(...)` where the caller has something to add.
pub fn describe<E, R>(err: SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let (service, operation) = service_and_operation(std::any::type_name::<E>());
    let (summary, help) = if lacks_credentials(&err) {
        let profile = std::env::var("AWS_PROFILE").ok();
        (
            format!("{service} {operation}: no AWS credentials found"),
            Some(credentials_help(profile.as_deref())),
        )
    } else {
        let what = match &err {
            SdkError::ServiceError(_) => format!(
                "{}: {}",
                err.code().unwrap_or("UnknownError"),
                err.message().unwrap_or("(no message)")
            ),
            SdkError::TimeoutError(_) => format!("timed out: {}", innermost(&err)),
            SdkError::DispatchFailure(_) => {
                format!("could not reach the endpoint: {}", innermost(&err))
            }
            SdkError::ConstructionFailure(_) => {
                format!("could not build the request: {}", innermost(&err))
            }
            _ => format!("unexpected response: {}", innermost(&err)),
        };
        (format!("{service} {operation}: {what}"), None)
    };
    AwsError {
        context: None,
        summary,
        help,
        source: Box::new(err),
    }
}

/// `aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError` →
/// (`CloudFormation`, `DescribeStacks`): the names the AWS documentation uses.
fn service_and_operation(type_name: &str) -> (String, String) {
    let mut segments = type_name.split("::");
    let krate = segments.next().unwrap_or_default();
    let operation = type_name
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .trim_end_matches('>')
        .trim_end_matches("Error")
        .to_owned();
    let service = match krate.strip_prefix("aws_sdk_").unwrap_or(krate) {
        "cloudformation" => "CloudFormation",
        "cloudwatch" => "CloudWatch",
        "dynamodb" => "DynamoDB",
        "elasticloadbalancingv2" => "ElasticLoadBalancingV2",
        "lambda" => "Lambda",
        "s3" => "S3",
        "scheduler" => "Scheduler",
        "sns" => "SNS",
        "sts" => "STS",
        other => other,
    };
    (service.to_owned(), operation)
}

/// Whether the call failed because no credentials provider had any (the SDK then never sent it).
fn lacks_credentials(err: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) = current.downcast_ref() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The last cause of the chain: the SDK's own `Display` of the outer layers says little.
fn innermost(err: &(dyn Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Where the default credentials chain looked, in its order, and how to provide credentials.
pub fn credentials_help(profile: Option<&str>) -> String {
    let profile = profile.unwrap_or("default");
    format!(
        "Looked for credentials, in this order, in:\n\
         \x20 - the environment: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)\n\
         \x20 - profile `{profile}` (AWS_PROFILE, else `default`) in ~/.aws/credentials and ~/.aws/config\n\
         \x20   (or the files AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE name)\n\
         \x20 - web identity: AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN\n\
         \x20 - the ECS container credentials endpoint, then the EC2 instance metadata service (IMDS)\n\
         Provide them with one of:\n\
         \x20 - `aws configure` (writes ~/.aws/credentials), or `export AWS_PROFILE=NAME` for another profile\n\
         \x20 - `export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...`\n\
         \x20 - IAM Identity Center (SSO): `aws sso login --profile NAME`, then\n\
         \x20   `eval \"$(aws configure export-credentials --profile NAME --format env)\"`\n\
         \x20   (this tool reads no SSO token cache itself)"
    )
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::get_object::GetObjectError;
    use aws_smithy_types::body::SdkBody;

    use super::*;

    #[test]
    fn the_service_and_operation_come_from_the_error_type() {
        let name = std::any::type_name::<
            aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError,
        >();
        assert_eq!(
            service_and_operation(name),
            ("CloudFormation".to_owned(), "DescribeStacks".to_owned())
        );
        let name = std::any::type_name::<GetObjectError>();
        assert_eq!(
            service_and_operation(name),
            ("S3".to_owned(), "GetObject".to_owned())
        );
    }

    #[test]
    fn a_service_error_is_one_line_with_service_operation_code_and_message() {
        let err: SdkError<GetObjectError, HttpResponse> = SdkError::service_error(
            GetObjectError::generic(
                ErrorMetadata::builder()
                    .code("AccessDenied")
                    .message("Access Denied")
                    .build(),
            ),
            HttpResponse::new(403.try_into().unwrap(), SdkBody::empty()),
        );
        let described = describe(err).context("could not read s3://b/k");
        assert_eq!(
            described.to_string(),
            "could not read s3://b/k: S3 GetObject: AccessDenied: Access Denied"
        );
        assert!(described.source().is_some(), "--debug has the chain");
    }

    #[derive(Debug)]
    struct NoCredentials;

    impl ProvideCredentials for NoCredentials {
        fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
        where
            Self: 'a,
        {
            // What the default chain says when no provider had any.
            future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
                "no providers in chain provided credentials",
            )))
        }
    }

    #[tokio::test]
    async fn missing_credentials_say_where_they_were_looked_for_and_how_to_provide_them() {
        // A real client and call: it fails before sending anything (nothing listens on port 9).
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(SharedCredentialsProvider::new(NoCredentials))
            .build();
        let err = aws_sdk_s3::Client::from_conf(config)
            .get_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap_err();
        let text = describe(err).to_string();
        let first = text.lines().next().unwrap();
        assert_eq!(first, "S3 GetObject: no AWS credentials found", "{text}");
        for place in [
            "AWS_ACCESS_KEY_ID",
            "~/.aws/credentials",
            "AWS_PROFILE",
            "instance metadata service (IMDS)",
            "aws configure",
            "aws sso login",
        ] {
            assert!(text.contains(place), "{place}: {text}");
        }
    }

    #[test]
    fn the_help_names_the_profile_in_use() {
        assert!(credentials_help(Some("ops")).contains("profile `ops`"));
        assert!(credentials_help(None).contains("profile `default`"));
    }
}
