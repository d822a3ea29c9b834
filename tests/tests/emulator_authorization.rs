//! The emulator authenticates and authorizes as AWS does where moto alone did not
//! (`emulator/alb_canary_moto/authorization.py`): a signed body-less GET with a query string is
//! checked as it was signed; a CloudWatch call is authorized under the IAM prefix `cloudwatch`,
//! not the signing name `monitoring`, with the request's `cloudwatch:namespace`. The calls are the
//! real SDK's, signed.

use alb_canary_tests::Moto;
use alb_canary_tests::auth::{assume_role, instance_role, operator, reset_auth, signed_as};
use alb_canary_tests::requests::{Schedule, create_schedule};
use alb_canary_tests::template::Deployment;
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
    let mut deployment = Deployment::new(&[("TargetSignal", "enabled")]);
    // The role's other policies name the artifact bucket.
    deployment.created("ArtifactBucket", "artifacts");
    deployment.attribute("ArtifactBucket", "Arn", "arn:aws:s3:::artifacts");
    let moto = tokio::task::block_in_place(Moto::start);
    let iam = aws_sdk_iam::Client::new(&moto.sdk_config().await);
    let arn = instance_role(&iam, &deployment, ROLE).await;
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

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_get_with_a_query_string_is_checked_as_it_was_signed() {
    // The operators' `release` reads the promotion schedule (GET /schedules/NAME?groupName=…):
    // moto refused every such signed call, right or wrong.
    let moto = tokio::task::block_in_place(Moto::start);
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (key_id, secret) = operator(&iam, "operator").await;
    create_schedule(
        &aws_sdk_scheduler::Client::new(&sdk),
        &Schedule {
            name: "promotion".into(),
            expression: "rate(1 minute)".into(),
            target_arn: "arn:aws:lambda:us-east-1:123456789012:function:promotion".into(),
            role_arn: "arn:aws:iam::123456789012:role/scheduler".into(),
            input: "{}".into(),
        },
    )
    .await;
    reset_auth(&moto, "0");

    let get = |secret: String| {
        let moto = &moto;
        let key_id = key_id.clone();
        async move {
            aws_sdk_scheduler::Client::new(&signed_as(moto, &key_id, &secret).await)
                .get_schedule()
                .name("promotion")
                .group_name("default")
                .send()
                .await
                .map_err(|err| format!("{:?}", aws_sdk_scheduler::error::DisplayErrorContext(err)))
        }
    };
    let schedule = get(secret.clone()).await.expect("the right key");
    assert_eq!(schedule.schedule_expression(), Some("rate(1 minute)"));
    let wrong = get(format!("{secret}x"))
        .await
        .expect_err("a wrong secret is refused");
    assert!(wrong.contains("SignatureDoesNotMatch"), "{wrong}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_form_post_is_checked_on_the_bytes_the_sdk_sent() {
    // The rollback and `release` notify the canary's topic (a Query-protocol form POST) with
    // messages holding spaces and punctuation, which the SDK percent-encodes as RFC 3986 says.
    let moto = tokio::task::block_in_place(Moto::start);
    let sdk = moto.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&sdk);
    let (key_id, secret) = operator(&iam, "operator").await;
    let topic = aws_sdk_sns::Client::new(&sdk)
        .create_topic()
        .name("canary")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .unwrap()
        .to_owned();
    reset_auth(&moto, "0");
    let publish = |secret: String| {
        let (moto, topic) = (&moto, topic.clone());
        let key_id = key_id.clone();
        async move {
            aws_sdk_sns::Client::new(&signed_as(moto, &key_id, &secret).await)
                .publish()
                .topic_arn(topic)
                .subject("alb-canary: release 2.0.0 (canary 10 %)")
                .message(
                    "the canary's 5XX rate 7.5 % > 5 %: rolled back; weights stable 100 / canary 0 → done * ~ + &",
                )
                .send()
                .await
                .map_err(|err| format!("{:?}", aws_sdk_sns::error::DisplayErrorContext(err)))
        }
    };
    publish(secret.clone()).await.expect("the right key");
    let wrong = publish(format!("{secret}x"))
        .await
        .expect_err("a wrong secret is refused");
    assert!(wrong.contains("SignatureDoesNotMatch"), "{wrong}");
}
