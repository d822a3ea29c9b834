//! The stack's parameters and the conditions derived from them.

use crate::cfn::{Cond, Expr, Param, ParamSpec, ParamType, Template};

const CIDR_PATTERN: &str = r"^(\d{1,3}\.){3}\d{1,3}/(1[6-9]|2[0-8])$";
const CIDR_EXPLANATION: &str = "an IPv4 CIDR block between /16 and /28, e.g. 10.0.10.0/24";

/// Ubuntu 24.04 LTS (amd64, gp3 root) from Canonical's public SSM parameter: always the current
/// patched image, no AMI IDs per region in the template. amd64 because the recommender is
/// published as a static x86_64 binary.
/// Where instances fetch the recommender binary by default (`ArtifactPrefix`), and where
/// `cargo xtask publish` puts it unless told otherwise.
pub const DEFAULT_ARTIFACT_PREFIX: &str = contract::release::DEFAULT_ARTIFACT_PREFIX;

pub const UBUNTU_AMI_PARAMETER: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

pub struct Parameters {
    pub vpc_cidr: Param,
    pub public_subnet_cidrs: [Param; 2],
    pub private_subnet_cidrs: [Param; 2],
    pub nat_gateways: Param,
    pub canary_platform: Param,
    pub stable_instance_count: Param,
    pub canary_instance_count: Param,
    pub instance_type: Param,
    pub image_id: Param,
    pub artifact_prefix: Param,
    pub certificate_arn: Param,
    pub waf_rate_limit: Param,
    pub alb_deletion_protection: Param,
    pub alb_access_logs: Param,
    pub target_signal: Param,
}

pub struct Conditions {
    /// One NAT gateway per AZ instead of one shared.
    pub nat_per_az: Cond,
    /// `CanaryPlatform` is `vm`: canary runs on instances in TG-V2.
    pub canary_on_vm: Cond,
    /// `CanaryPlatform` is `docker`: canary runs on the Docker host in TG-V2-Docker.
    pub canary_on_docker: Cond,
    /// A certificate was given: HTTPS 443 holds the weighted forward, 80 redirects.
    pub has_certificate: Cond,
    /// `AlbAccessLogs` is `enabled`: the ALB writes access logs to the stack's log bucket.
    pub has_access_logs: Cond,
    /// `TargetSignal` is `enabled`: every instance runs `alb-canary-signal` in front of the service,
    /// publishing 10 s metrics through the `monitoring` interface endpoint, with 10 s alarms on them.
    pub target_signal_on: Cond,
}

pub fn declare(template: &mut Template) -> (Parameters, Conditions) {
    let parameters = Parameters {
        vpc_cidr: template.parameter("VpcCidr", cidr("CIDR block of the VPC.", "10.0.0.0/16")),
        public_subnet_cidrs: subnet_cidrs(template, "Public"),
        private_subnet_cidrs: subnet_cidrs(template, "Private"),
        nat_gateways: template.parameter(
            "NatGateways",
            ParamSpec::string(
                "single: one NAT gateway shared by both AZs (cheaper); per-az: one per AZ (survives an AZ loss).",
                "single",
            )
            .allowed(&["single", "per-az"]),
        ),
        canary_platform: template.parameter(
            "CanaryPlatform",
            ParamSpec::string(
                "Where the canary runs: vm = canary instances in TG-V2; docker = a Docker host running the V2 container in TG-V2-Docker.",
                "vm",
            )
            .allowed(&["vm", "docker"]),
        ),
        stable_instance_count: template.parameter(
            "StableInstanceCount",
            ParamSpec::number("Number of stable instances, spread over both AZs.", 3, 1, 10),
        ),
        canary_instance_count: template.parameter(
            "CanaryInstanceCount",
            ParamSpec::number(
                "Number of canary instances when CanaryPlatform is vm.",
                1,
                0,
                10,
            ),
        ),
        instance_type: template.parameter(
            "InstanceType",
            ParamSpec::string("EC2 instance type of every instance (x86_64).", "t3.micro")
                .pattern(r"^[a-z0-9]+\.[a-z0-9]+$", "an EC2 instance type such as t3.micro"),
        ),
        image_id: image_id(template),
        artifact_prefix: artifact_prefix(template),
        certificate_arn: certificate_arn(template),
        waf_rate_limit: template.parameter(
            "WafRateLimit",
            ParamSpec::number(
                "WAF rate-based rule: requests per client IP in any 5-minute window before it is blocked.",
                2000,
                100,
                2_000_000_000,
            ),
        ),
        alb_deletion_protection: template.parameter(
            "AlbDeletionProtection",
            ParamSpec::string(
                "true: the ALB cannot be deleted until this is set back to false.",
                "false",
            )
            .allowed(&["true", "false"]),
        ),
        alb_access_logs: template.parameter(
            "AlbAccessLogs",
            ParamSpec::string(
                "enabled: the ALB writes access logs to the stack's log bucket (prefix alb/); disabled: no ALB access logs.",
                "enabled",
            )
            .allowed(&["enabled", "disabled"]),
        ),
        target_signal: target_signal(template),
    };
    let conditions = conditions(template, &parameters);
    (parameters, conditions)
}

/// Two subnets' CIDR parameters of one `kind` (`Public` or `Private`), one per AZ.
fn subnet_cidrs(template: &mut Template, kind: &str) -> [Param; 2] {
    let defaults = match kind {
        "Public" => [
            ("Public subnet in the first AZ (ALB, NAT).", "10.0.10.0/24"),
            ("Public subnet in the second AZ (ALB, NAT).", "10.0.11.0/24"),
        ],
        _ => [
            (
                "Private subnet in the first AZ (stable and canary instances, Docker host).",
                "10.0.20.0/24",
            ),
            (
                "Private subnet in the second AZ (stable and canary instances).",
                "10.0.21.0/24",
            ),
        ],
    };
    let mut az = 0;
    defaults.map(|(description, default)| {
        az += 1;
        template.parameter(&format!("{kind}Subnet{az}Cidr"), cidr(description, default))
    })
}

fn cidr(description: &str, default: &str) -> ParamSpec {
    ParamSpec::string(description, default).pattern(CIDR_PATTERN, CIDR_EXPLANATION)
}

fn artifact_prefix(template: &mut Template) -> Param {
    template.parameter(
        "ArtifactPrefix",
        ParamSpec::string(
            "Key prefix of the recommender binary in the artifact bucket: instances fetch s3://<ArtifactBucket>/<ArtifactPrefix>/recommender.",
            DEFAULT_ARTIFACT_PREFIX,
        )
        .pattern(
            r"^[A-Za-z0-9][A-Za-z0-9._/-]*[A-Za-z0-9]$",
            "a key prefix without leading or trailing slash",
        ),
    )
}

fn certificate_arn(template: &mut Template) -> Param {
    template.parameter(
        "CertificateArn",
        ParamSpec::string(
            "ACM certificate ARN for HTTPS on 443 (then 80 redirects to 443). Empty: HTTP on 80 only.",
            "",
        )
        .pattern(
            r"^$|^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$",
            "empty or an ACM certificate ARN",
        ),
    )
}

fn target_signal(template: &mut Template) -> Param {
    template.parameter(
        "TargetSignal",
        ParamSpec::string(
            "enabled: each instance runs alb-canary-signal in front of the service (port 8000, or 80 on the Docker host) and publishes 10-second request, 5XX and latency metrics to CloudWatch (AlbCanary/Targets) through a monitoring interface endpoint; 10-second alarms on them roll the canary back within seconds. disabled: only the ALB's per-minute metrics.",
            // The functions read the value as is (`contract::env::TARGET_SIGNAL`).
            contract::env::TARGET_SIGNAL_DISABLED,
        )
        .allowed(&[
            contract::env::TARGET_SIGNAL_ENABLED,
            contract::env::TARGET_SIGNAL_DISABLED,
        ]),
    )
}

fn conditions(template: &mut Template, parameters: &Parameters) -> Conditions {
    Conditions {
        nat_per_az: template.condition(
            "NatPerAz",
            Expr::equals(parameters.nat_gateways.r#ref(), "per-az"),
        ),
        canary_on_vm: template.condition(
            "CanaryOnVm",
            Expr::equals(parameters.canary_platform.r#ref(), "vm"),
        ),
        canary_on_docker: template.condition(
            "CanaryOnDocker",
            Expr::equals(parameters.canary_platform.r#ref(), "docker"),
        ),
        has_certificate: template.condition(
            "HasCertificate",
            Expr::negate(Expr::equals(parameters.certificate_arn.r#ref(), "")),
        ),
        has_access_logs: template.condition(
            "HasAccessLogs",
            Expr::equals(parameters.alb_access_logs.r#ref(), "enabled"),
        ),
        target_signal_on: template.condition(
            "TargetSignalOn",
            Expr::equals(
                parameters.target_signal.r#ref(),
                contract::env::TARGET_SIGNAL_ENABLED,
            ),
        ),
    }
}

fn image_id(template: &mut Template) -> Param {
    template.parameter(
        "ImageId",
        ParamSpec {
            kind: ParamType::SsmImageId,
            ..ParamSpec::string(
                "SSM parameter holding the AMI ID (Ubuntu 24.04 amd64 by default).",
                UBUNTU_AMI_PARAMETER,
            )
        },
    )
}
