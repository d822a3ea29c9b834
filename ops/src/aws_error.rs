//! Errors for a person at a terminal: every AWS failure on one line with the service, the
//! operation, the error code and the message (the controller's [`controller::aws_error`] makes
//! that line, here and inside the Lambdas); where credentials were looked for, and how to provide
//! them, when there were none; the whole chain of causes only with `--debug`.

use std::error::Error;
use std::fmt;

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use controller::aws_error::{lacks_credentials, summary};

/// An AWS call that failed, said in one line, after what the caller was doing.
#[derive(Debug)]
pub struct AwsError {
    context: Option<String>,
    summary: String,
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
        f.write_str(&self.summary)
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
    AwsError {
        context: None,
        summary: summary(&err),
        source: Box::new(err),
    }
}

/// What `canaryctl` prints for a failed command: the error's line; how to provide credentials
/// when a call found none, whichever crate's error carried it; with `--debug`, every cause and
/// the error's `Debug` form.
pub fn render(err: &(dyn Error + 'static), debug: bool) -> String {
    let mut text = format!("error: {err}");
    if lacks_credentials(err) {
        let profile = std::env::var("AWS_PROFILE").ok();
        text.push('\n');
        text.push_str(&credentials_help(profile.as_deref()));
    }
    if debug {
        let mut cause = err.source();
        while let Some(current) = cause {
            text.push_str(&format!("\n  caused by: {current}"));
            cause = current.source();
        }
        text.push_str(&format!("\ndebug: {err:?}"));
    }
    text
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
    use alb_canary_tests::sdk_errors::get_object_refused;
    use aws_credential_types::provider::error::CredentialsError;
    use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider, future};
    use aws_sdk_s3::config::http::HttpResponse;
    use aws_sdk_s3::operation::get_object::GetObjectError;

    use super::*;

    fn access_denied() -> SdkError<GetObjectError, HttpResponse> {
        get_object_refused(403, "AccessDenied", "Access Denied", "req-1")
    }

    #[test]
    fn a_service_error_is_one_line_with_service_operation_code_and_message() {
        let described = describe(access_denied()).context("could not read s3://b/k");
        assert_eq!(
            render(&described, false),
            "error: could not read s3://b/k: S3 GetObject: AccessDenied: Access Denied"
        );
    }

    #[test]
    fn debug_adds_every_cause_and_the_debug_form() {
        for err in [
            Box::new(describe(access_denied())) as Box<dyn Error>,
            Box::new(controller::Error::aws(access_denied())),
        ] {
            let text = render(err.as_ref(), true);
            let lines: Vec<_> = text.lines().collect();
            assert_eq!(
                lines[0], "error: S3 GetObject: AccessDenied: Access Denied",
                "{text}"
            );
            assert!(lines[1].starts_with("  caused by: service error"), "{text}");
            assert!(lines.last().unwrap().starts_with("debug: "), "{text}");
            assert!(text.contains("Access Denied"), "{text}");
        }
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

    async fn call_without_credentials() -> SdkError<GetObjectError, HttpResponse> {
        // A real client and call: it fails before sending anything (nothing listens on port 9).
        let config = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_s3::config::Region::new("us-east-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(SharedCredentialsProvider::new(NoCredentials))
            .build();
        aws_sdk_s3::Client::from_conf(config)
            .get_object()
            .bucket("b")
            .key("k")
            .send()
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn missing_credentials_say_where_they_were_looked_for_and_how_to_provide_them() {
        // canaryctl's own calls and the controller's adapters (status, abort) both get the help.
        for err in [
            Box::new(describe(call_without_credentials().await)) as Box<dyn Error>,
            Box::new(controller::Error::aws(call_without_credentials().await)),
        ] {
            let text = render(err.as_ref(), false);
            let first = text.lines().next().unwrap();
            assert_eq!(
                first, "error: S3 GetObject: no AWS credentials found",
                "{text}"
            );
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
        let other = render(&describe(access_denied()), false);
        assert!(!other.contains("Looked for credentials"), "{other}");
    }

    #[test]
    fn the_help_names_the_profile_in_use() {
        assert!(credentials_help(Some("ops")).contains("profile `ops`"));
        assert!(credentials_help(None).contains("profile `default`"));
    }
}
