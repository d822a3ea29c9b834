//! SDK errors as a service answers them, for the tests of how errors are said (no call is made).

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_smithy_types::body::SdkBody;

/// S3 GetObject refused with `status`, `code` and `message`, carrying `request_id`.
pub fn get_object_refused(
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> SdkError<GetObjectError, HttpResponse> {
    SdkError::service_error(
        GetObjectError::generic(
            ErrorMetadata::builder()
                .code(code)
                .message(message)
                .custom("aws_request_id", request_id)
                .build(),
        ),
        HttpResponse::new(
            status.try_into().expect("an HTTP status code"),
            SdkBody::empty(),
        ),
    )
}
