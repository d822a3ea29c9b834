//! The emulator authorizes a CloudWatch call as AWS does (`emulator/alb_canary_moto/iam_actions.py`):
//! under the IAM prefix `cloudwatch`, not the signing name `monitoring`, and with the request's
//! `cloudwatch:namespace`. The role is the template's instance role with its target-signal
//! policy, its credentials temporary ones from STS, and the calls are the real SDK's, signed.

use alb_canary_tests::Moto;
use alb_canary_tests::auth::{assume_role, reset_auth};
use alb_canary_tests::template::{Deployment, scalar};
use aws_sdk_cloudwatch::types::MetricDatum;

const ROLE: &str = "instance";

async fn put(client: &aws_sdk_cloudwatch::Client, namespace: &str) -> Result<(), String> {
    client
        .put_metric_data()
        .namespace(namespace)
        .metric_data(
            MetricDatum::builder()
                .metric_name("RequestCount")
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(|err| format!("{:?}", aws_sdk_cloudwatch::error::DisplayErrorContext(err)))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_instance_role_may_put_metrics_into_the_target_signals_namespace_only() {
    let deployment = Deployment::new(&[("TargetSignal", "enabled")]);
    let moto = tokio::task::block_in_place(Moto::start);
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
    let trust = deployment.property("InstanceRole", &["AssumeRolePolicyDocument"]);
    let arn = iam
        .create_role()
        .role_name(ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .expect("CreateRole")
        .role()
        .unwrap()
        .arn()
        .to_owned();
    let policy = "InstanceTargetSignalPolicy";
    iam.put_role_policy()
        .role_name(ROLE)
        .policy_name(scalar(&deployment.property(policy, &["PolicyName"])))
        .policy_document(deployment.property(policy, &["PolicyDocument"]).to_string())
        .send()
        .await
        .expect("PutRolePolicy");
    let credentials = assume_role(&moto, &arn);
    reset_auth(&moto, "0");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto.endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            credentials.access_key_id,
            credentials.secret_access_key,
            Some(credentials.session_token),
            None,
            "instance-role",
        ))
        .load()
        .await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk);

    put(&cloudwatch, contract::target_metric::NAMESPACE)
        .await
        .expect("the role's own namespace");
    let refused = put(&cloudwatch, "AWS/ApplicationELB")
        .await
        .expect_err("another namespace is refused");
    assert!(refused.contains("AccessDenied"), "{refused}");
    assert!(refused.contains("cloudwatch:PutMetricData"), "{refused}");
    // Nothing else of CloudWatch is the role's: not even reading back what it put.
    let read = cloudwatch
        .list_metrics()
        .send()
        .await
        .map_err(|err| format!("{:?}", aws_sdk_cloudwatch::error::DisplayErrorContext(err)))
        .expect_err("the role reads nothing");
    assert!(read.contains("AccessDenied"), "{read}");
}
