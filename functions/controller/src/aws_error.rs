//! AWS call failures said in one line: the service and operation (the names the AWS
//! documentation uses), then the error code and message. The Lambda result, `canaryctl` and the
//! lab all print this line; the SDK error stays behind it as the source for whoever wants the
//! whole chain (`--debug`, the Lambda diagnostic).

use std::error::Error;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
// The SDK crates share these smithy types; s3's re-export names them.
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

/// `S3 GetObject: AccessDenied: Access Denied`, `DynamoDB Query: could not reach the endpoint: …`.
pub fn summary<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + Error + 'static,
    R: fmt::Debug + 'static,
{
    let (service, operation) = service_and_operation(std::any::type_name::<E>());
    let what = if lacks_credentials(err) {
        "no AWS credentials found".to_owned()
    } else {
        match err {
            SdkError::ServiceError(_) => format!(
                "{}: {}",
                err.code().unwrap_or("UnknownError"),
                err.message().unwrap_or("(no message)")
            ),
            SdkError::TimeoutError(_) => format!("timed out: {}", innermost(err)),
            SdkError::DispatchFailure(_) => {
                format!("could not reach the endpoint: {}", innermost(err))
            }
            SdkError::ConstructionFailure(_) => {
                format!("could not build the request: {}", innermost(err))
            }
            _ => format!("unexpected response: {}", innermost(err)),
        }
    };
    format!("{service} {operation}: {what}")
}

/// `aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksError` →
/// (`CloudFormation`, `DescribeStacks`).
pub fn service_and_operation(type_name: &str) -> (String, String) {
    let krate = type_name.split("::").next().unwrap_or_default();
    let operation = type_name
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .trim_end_matches('>')
        .trim_end_matches("Error")
        .to_owned();
    let service = match krate.strip_prefix("aws_sdk_").unwrap_or(krate) {
        "autoscaling" => "AutoScaling",
        "cloudformation" => "CloudFormation",
        "cloudwatch" => "CloudWatch",
        "dynamodb" => "DynamoDB",
        "elasticloadbalancingv2" => "ElasticLoadBalancingV2",
        "iam" => "IAM",
        "lambda" => "Lambda",
        "s3" => "S3",
        "scheduler" => "Scheduler",
        "sns" => "SNS",
        "sts" => "STS",
        other => other,
    };
    (service.to_owned(), operation)
}

/// Whether a call failed because no credentials provider had any (the SDK then sent nothing).
pub fn lacks_credentials(err: &(dyn Error + 'static)) -> bool {
    let mut cause = Some(err);
    while let Some(current) = cause {
        if let Some(CredentialsError::CredentialsNotLoaded(_)) = current.downcast_ref() {
            return true;
        }
        cause = current.source();
    }
    false
}

/// The last cause of the chain: the SDK's own `Display` of the outer layers says little
/// ("dispatch failure").
fn innermost(err: &(dyn Error + 'static)) -> String {
    let mut last = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

#[cfg(test)]
mod tests {
    use alb_canary_tests::sdk_errors::get_object_refused;
    use aws_sdk_s3::operation::get_object::GetObjectError;

    use super::*;

    #[test]
    fn the_service_and_operation_come_from_the_error_type() {
        let name = std::any::type_name::<
            aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerError,
        >();
        assert_eq!(
            service_and_operation(name),
            (
                "ElasticLoadBalancingV2".to_owned(),
                "ModifyListener".to_owned()
            )
        );
        let name = std::any::type_name::<GetObjectError>();
        assert_eq!(
            service_and_operation(name),
            ("S3".to_owned(), "GetObject".to_owned())
        );
    }

    #[test]
    fn a_service_error_is_one_line_with_service_operation_code_and_message() {
        let err = get_object_refused(403, "AccessDenied", "Access Denied", "req-1");
        assert_eq!(summary(&err), "S3 GetObject: AccessDenied: Access Denied");
    }
}
