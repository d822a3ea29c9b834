//! The AWS clients a handler needs, built once per cold start (or per test, against the emulator),
//! and the SDK's retry and timeout settings, chosen rather than inherited ([`retry_config`],
//! [`timeout_config`]).

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use std::time::Duration;

/// Attempts per call, the first included. A throttled or 5XX call is retried three times with
/// jittered exponential backoff from [`INITIAL_BACKOFF`], at most [`MAX_BACKOFF`] apart: a brief
/// throttling burst is absorbed inside the run, and an outage fails the call within seconds. What
/// outlasts the retries is AWS's to retry, not ours: the schedule runs the promotion again a
/// minute later (a failed run changes nothing it cannot find again: it holds), and an alarm's
/// failed invocation is retried twice by Lambda before it goes to the dead-letter queue.
pub const MAX_ATTEMPTS: u32 = 4;
pub const INITIAL_BACKOFF: Duration = Duration::from_millis(200);
pub const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// One attempt: a hung connection is abandoned and retried, not waited on until the Lambda's end.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
/// One call, retries included: the rollback's two listener calls fit twice in the functions'
/// 60 s timeout with room for its records (4 attempts × 4 s + at most 3 × 2 s of backoff ≤ 22 s).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(22);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The SDK retry settings of the functions and the operator commands (see [`MAX_ATTEMPTS`]).
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(MAX_ATTEMPTS)
        .with_initial_backoff(INITIAL_BACKOFF)
        .with_max_backoff(MAX_BACKOFF)
}

/// The SDK timeouts of the functions and the operator commands (see [`OPERATION_TIMEOUT`]).
pub fn timeout_config() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .operation_attempt_timeout(ATTEMPT_TIMEOUT)
        .operation_timeout(OPERATION_TIMEOUT)
        .build()
}

#[derive(Debug, Clone)]
pub struct Clients {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub scheduler: aws_sdk_scheduler::Client,
    /// The fleets' version pointers in the artifact bucket.
    pub s3: aws_sdk_s3::Client,
    /// The fleets' instance refreshes.
    pub autoscaling: aws_sdk_autoscaling::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Clients {
        let mut s3 = aws_sdk_s3::config::Builder::from(sdk);
        // An endpoint override is an emulator reached by IP: virtual-hosted bucket names
        // (`B.127.0.0.1`) would not resolve there.
        if sdk.endpoint_url().is_some() {
            s3 = s3.force_path_style(true);
        }
        Clients {
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
            s3: aws_sdk_s3::Client::from_conf(s3.build()),
            autoscaling: aws_sdk_autoscaling::Client::new(sdk),
        }
    }

    /// Clients from the Lambda environment (region, role credentials, `AWS_ENDPOINT_URL`), with
    /// the project's retry and timeout settings.
    pub async fn from_env() -> Clients {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .retry_config(retry_config())
            .timeout_config(timeout_config())
            .load()
            .await;
        Clients::new(&sdk)
    }
}
