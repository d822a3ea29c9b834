//! The AWS clients a handler needs, built once per cold start (or per test, against the emulator).

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

    /// Clients from the Lambda environment (region, role credentials, `AWS_ENDPOINT_URL`).
    pub async fn from_env() -> Clients {
        let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Clients::new(&sdk)
    }
}
