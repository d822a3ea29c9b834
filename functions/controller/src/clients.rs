//! The AWS clients a handler needs, built once per cold start (or per test, against the emulator).

#[derive(Debug, Clone)]
pub struct Clients {
    pub elbv2: aws_sdk_elasticloadbalancingv2::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub scheduler: aws_sdk_scheduler::Client,
}

impl Clients {
    pub fn new(sdk: &aws_config::SdkConfig) -> Clients {
        Clients {
            elbv2: aws_sdk_elasticloadbalancingv2::Client::new(sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            sns: aws_sdk_sns::Client::new(sdk),
            scheduler: aws_sdk_scheduler::Client::new(sdk),
        }
    }

    /// Clients from the Lambda environment (region, role credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_env() -> Clients {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients::new(&sdk)
    }
}
