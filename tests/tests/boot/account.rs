//! The AWS side an instance boots against, in the emulator: the controller's resources as the
//! stack declares them, the artifact bucket, the instance role with the template's own trust and
//! inline policies and temporary credentials of that role (AssumeRole: key, secret, session
//! token), and an operator whose `publish` and `release` are the operators' own code. Once
//! [`Account::enforce_auth`] is called the emulator checks every request's SigV4 signature and
//! the caller's IAM policies (moto's `INITIAL_NO_AUTH_ACTION_COUNT`, set to 0 at run time).

use alb_canary_tests::Moto;
use alb_canary_tests::boot::imds::Credentials;
use alb_canary_tests::refresh::InstanceRefreshes;
use alb_canary_tests::stack_in_moto::{self, LoadBalancer};
use alb_canary_tests::template::{Deployment, scalar};
use aws_sdk_s3::primitives::ByteStream;
use canaryctl::settings::Target;
use controller::Config;

pub const ROLE: &str = "alb-canary-InstanceRole";
const OPERATOR: &str = "alb-canary-operator";

pub struct Account {
    pub moto: Moto,
    /// Answers the Auto Scaling refreshes `release` starts (moto has none).
    _refreshes: InstanceRefreshes,
    /// The operator's clients (an IAM user allowed everything) and the controller's settings.
    pub target: Target,
    pub deployment: Deployment,
    /// The instance role's temporary credentials, as IMDS hands them out.
    pub credentials: Credentials,
}

impl Account {
    pub async fn new() -> Account {
        Account::with_parameters(&[]).await
    }

    /// The stack deployed with these template parameters.
    pub async fn with_parameters(parameters: &[(&str, &str)]) -> Account {
        let moto = tokio::task::block_in_place(Moto::start);
        let lb = LoadBalancer::create(&moto, "boot-alb").await;
        let deployed = stack_in_moto::deploy(&moto, &lb, parameters).await;
        let deployment = deployed.deployment;
        let vars = &deployed.function_env["PromotionFunction"];
        let config = Config::from_lookup(|n| vars.get(n).cloned()).expect("the template's config");
        let sdk = moto.sdk_config().await;
        let iam = aws_sdk_iam::Client::new(&sdk);

        // The instance role exactly as the template writes it.
        let role_arn = alb_canary_tests::auth::instance_role(&iam, &deployment, ROLE).await;
        let credentials = alb_canary_tests::auth::assume_role(&moto, &role_arn);
        let (key_id, secret) = alb_canary_tests::auth::operator(&iam, OPERATOR).await;
        let operator_sdk = alb_canary_tests::auth::signed_as(&moto, &key_id, &secret).await;
        let refreshes = InstanceRefreshes::start();
        let clients = refreshes.clients(&operator_sdk);
        Account {
            moto,
            _refreshes: refreshes,
            target: Target { clients, config },
            deployment,
            credentials,
        }
    }

    pub fn bucket(&self) -> &str {
        &self.target.config.artifact_bucket
    }

    pub fn prefix(&self) -> &str {
        &self.target.config.artifact_prefix
    }

    /// From now on the emulator checks signatures and IAM policies on every request.
    pub fn enforce_auth(&self) {
        alb_canary_tests::auth::reset_auth(&self.moto, "0");
    }

    /// `cargo xtask publish --version VERSION`'s upload of `binary`.
    pub async fn publish(&self, version: &str, binary: &[u8]) {
        let outcome = canaryctl::publish::upload(
            &self.target.clients.s3,
            self.bucket(),
            self.prefix(),
            version,
            binary,
        )
        .await
        .unwrap_or_else(|err| panic!("publish {version}: {err}"));
        tracing::info!(%outcome, "published");
    }

    /// `cargo xtask publish --version VERSION`'s upload of the target signal's proxy.
    pub async fn publish_signal(&self, version: &str, binary: &[u8]) {
        let outcome = canaryctl::publish::upload_artifact(
            &self.target.clients.s3,
            self.bucket(),
            self.prefix(),
            version,
            contract::release::Artifact::Signal,
            binary,
        )
        .await
        .unwrap_or_else(|err| panic!("publish the signal {version}: {err}"));
        tracing::info!(%outcome, "published");
    }

    /// The emulator's endpoint as an instance reaches it (the container sees the host's loopback).
    pub fn endpoint_from_machine(&self) -> String {
        let port = self.moto.endpoint().rsplit(':').next().unwrap().to_owned();
        format!(
            "http://{}:{port}",
            alb_canary_tests::boot::machine::HOST_LOOPBACK
        )
    }

    /// The sum of `metric` the target signal published for `target_group` (its full name) in
    /// the last ten minutes, read as the operator.
    pub async fn target_sum(&self, metric: &str, target_group: &str) -> f64 {
        let now = std::time::SystemTime::now();
        let stats = self
            .target
            .clients
            .cloudwatch
            .get_metric_statistics()
            .namespace(contract::target_metric::NAMESPACE)
            .metric_name(metric)
            .dimensions(dimension("LoadBalancer", &self.target.config.load_balancer))
            .dimensions(dimension("TargetGroup", target_group))
            .start_time((now - std::time::Duration::from_secs(600)).into())
            .end_time((now + std::time::Duration::from_secs(60)).into())
            .period(60)
            .statistics(aws_sdk_cloudwatch::types::Statistic::Sum)
            .send()
            .await
            .unwrap_or_else(|err| panic!("GetMetricStatistics {metric}: {err:?}"));
        stats.datapoints().iter().filter_map(|d| d.sum()).sum()
    }

    /// `cargo xtask release VERSION`.
    pub async fn release(&self, version: &str) -> String {
        canaryctl::release::release(&self.target, version, false, controller::now_secs())
            .await
            .unwrap_or_else(|err| panic!("release {version}: {err}"))
    }

    /// Writes an object of the artifact bucket directly (what no operator command would write).
    pub async fn put(&self, key: &str, body: &[u8]) {
        self.target
            .clients
            .s3
            .put_object()
            .bucket(self.bucket())
            .key(key)
            .body(ByteStream::from(body.to_vec()))
            .send()
            .await
            .unwrap_or_else(|err| panic!("PutObject {key}: {err:?}"));
    }

    /// The user data of one launch template (`V1`, `V2`, `DockerHost`), rendered from the
    /// synthesized template by the shared intrinsic evaluator.
    pub fn user_data(&self, group: &str) -> String {
        scalar(&self.deployment.property(
            &format!("LaunchTemplate{group}"),
            &["LaunchTemplateData", "UserData"],
        ))
    }

    /// The artifact bucket as an instance reaches it: path-style on the emulator's port, which
    /// the container sees on the host's loopback.
    pub fn s3_endpoint_from_machine(&self) -> String {
        format!("{}/{}", self.endpoint_from_machine(), self.bucket())
    }
}

fn dimension(name: &str, value: &str) -> aws_sdk_cloudwatch::types::Dimension {
    aws_sdk_cloudwatch::types::Dimension::builder()
        .name(name)
        .value(value)
        .build()
}
